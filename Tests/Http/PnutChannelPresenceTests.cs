using System.Net;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class PnutChannelPresenceTests(GatewayFactory factory)
{
    private static long Unix(DateTimeOffset at) => at.ToUnixTimeSeconds();

    [Fact]
    public async Task Channel_presence_is_separate_from_global_presence()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant);
        var data = (await (await ann.PutAsync("/v1/users/me/presence/channels/582", Pnut.Form(("presence", "keeping my stick on the ice")))).AssertOk()).GetProperty("data");
        Assert.Equal("keeping my stick on the ice", data.GetProperty("presence").GetString());

        Assert.Equal("offline", (await (await ann.GetAsync("/v1/users/ann/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        var list = (await (await ann.GetAsync("/v1/channels/582/presence")).AssertOk()).GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal("ann", Assert.Single(list).GetProperty("id").GetString());
        var one = (await (await ann.GetAsync("/v1/users/ann/presence/channels/582")).AssertOk()).GetProperty("data");
        Assert.Equal("keeping my stick on the ice", one.GetProperty("presence").GetString());
        Assert.Empty((await (await ann.GetAsync("/v1/channels/other/presence")).AssertOk()).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task A_user_who_never_set_channel_presence_reads_offline_without_last_seen_at()
    {
        using var ann = factory.ClientFor("ann", Keys.Tenant());
        var data = (await (await ann.GetAsync("/v1/users/bob/presence/channels/582")).AssertOk()).GetProperty("data");
        Assert.Equal("offline", data.GetProperty("presence").GetString());
        Assert.False(data.TryGetProperty("last_seen_at", out _));
    }

    [Fact]
    public async Task An_expiration_in_the_past_deletes_and_one_beyond_seven_days_is_clamped()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant);
        var now = factory.Time.GetUtcNow();
        await (await ann.PutAsync("/v1/users/me/presence/channels/c1", Pnut.Form(("presence", "long"), ("expiration", Unix(now.AddDays(30)).ToString())))).AssertOk();
        factory.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromSeconds(1));
        Assert.Single((await (await ann.GetAsync("/v1/channels/c1/presence")).AssertOk()).GetProperty("data").EnumerateArray());
        factory.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty((await (await ann.GetAsync("/v1/channels/c1/presence")).AssertOk()).GetProperty("data").EnumerateArray());

        await (await ann.PutAsync("/v1/users/me/presence/channels/c2", Pnut.Form(("presence", "here")))).AssertOk();
        var past = Unix(factory.Time.GetUtcNow().AddMinutes(-1)).ToString();
        var deleted = (await (await ann.PutAsync("/v1/users/me/presence/channels/c2", Pnut.JsonBody($$"""{"presence":"here","expiration":{{past}}}"""))).AssertOk()).GetProperty("data");
        Assert.Equal("offline", deleted.GetProperty("presence").GetString());
        Assert.Empty((await (await ann.GetAsync("/v1/channels/c2/presence")).AssertOk()).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task Channel_presence_lasts_fifteen_minutes_by_default()
    {
        using var ann = factory.ClientFor("ann", Keys.Tenant());
        await (await ann.PutAsync("/v1/users/me/presence/channels/c", null)).AssertOk();
        factory.Time.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        Assert.Equal("online", (await (await ann.GetAsync("/v1/users/me/presence/channels/c")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        factory.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("offline", (await (await ann.GetAsync("/v1/users/me/presence/channels/c")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
    }

    [Theory]
    [InlineData("tomorrow")]
    [InlineData("1.5")]
    [InlineData("12e3")]
    public async Task A_non_numeric_expiration_gets_400_and_changes_nothing(string expiration)
    {
        using var ann = factory.ClientFor("ann", Keys.Tenant());
        await (await ann.PutAsync("/v1/users/me/presence/channels/c", Pnut.Form(("presence", "before")))).AssertOk();
        var message = await (await ann.PutAsync("/v1/users/me/presence/channels/c", Pnut.Form(("presence", "after"), ("expiration", expiration)))).AssertError(HttpStatusCode.BadRequest);
        Assert.Contains("expiration", message);
        Assert.Equal("before", (await (await ann.GetAsync("/v1/users/me/presence/channels/c")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task Setting_another_users_channel_presence_is_forbidden()
    {
        using var ann = factory.ClientFor("ann", Keys.Tenant());
        await (await ann.PutAsync("/v1/users/bob/presence/channels/c", Pnut.Form(("presence", "x")))).AssertError(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Invalid_channel_ids_get_400()
    {
        using var ann = factory.ClientFor("ann", Keys.Tenant());
        await (await ann.GetAsync($"/v1/channels/{new string('c', 129)}/presence")).AssertError(HttpStatusCode.BadRequest);
        await (await ann.PutAsync("/v1/users/me/presence/channels/a%2Fb", null)).AssertError(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Members_subscribe_unsubscribe_and_are_listed_with_channel_presence_on_request()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant, username: "annie");
        using var bob = factory.ClientFor("bob", tenant);
        var channel = (await (await ann.PutAsync("/v1/channels/team/subscribe", null)).AssertOk()).GetProperty("data");
        Assert.True(channel.GetProperty("you_subscribed").GetBoolean());
        await (await bob.PutAsync("/v1/channels/team/subscribe", null)).AssertOk();
        await (await bob.PutAsync("/v1/users/me/presence/channels/team", Pnut.Form(("presence", "typing")))).AssertOk();

        var plain = (await (await ann.GetAsync("/v1/channels/team/subscribers")).AssertOk()).GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(["ann", "bob"], plain.Select(u => u.GetProperty("id").GetString()));
        Assert.All(plain, u => Assert.False(u.TryGetProperty("presence", out _)));
        Assert.Equal("annie", plain[0].GetProperty("username").GetString());

        var withPresence = (await (await ann.GetAsync("/v1/channels/team/subscribers?include_presence=1")).AssertOk()).GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(["offline", "typing"], withPresence.Select(u => u.GetProperty("presence").GetString()));

        var left = (await (await ann.DeleteAsync("/v1/channels/team/subscribe")).AssertOk()).GetProperty("data");
        Assert.False(left.GetProperty("you_subscribed").GetBoolean());
        Assert.Equal(1, left.GetProperty("counts").GetProperty("subscribers").GetInt32());
    }

    [Fact]
    public async Task Channel_lists_page_with_count_and_before_id()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 7).Select(i => $"m{i}").ToArray();
        foreach (var id in ids)
        {
            using var member = factory.ClientFor(id, tenant);
            await (await member.PutAsync("/v1/channels/big/subscribe", null)).AssertOk();
            await (await member.PutAsync("/v1/users/me/presence/channels/big", Pnut.Form(("presence", "here")))).AssertOk();
        }
        using var reader = factory.ClientFor("reader", tenant);
        foreach (var route in new[] { "/v1/channels/big/presence", "/v1/channels/big/subscribers" })
        {
            var seen = new List<string>();
            string? before = null;
            do
            {
                var json = await (await reader.GetAsync($"{route}?count=3{(before is null ? "" : "&before_id=" + before)}")).AssertOk();
                seen.AddRange(json.GetProperty("data").EnumerateArray().Select(u => u.GetProperty("id").GetString()!));
                before = json.GetProperty("meta").GetProperty("more").GetBoolean() ? json.GetProperty("meta").GetProperty("min_id").GetString() : null;
            }
            while (before is not null && seen.Count < 20);
            Assert.Equal(ids, seen);
        }
        await (await reader.GetAsync("/v1/channels/big/presence?before_id=%25%25")).AssertError(HttpStatusCode.BadRequest);
    }
}
