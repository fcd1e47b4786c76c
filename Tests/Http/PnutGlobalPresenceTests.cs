using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class PnutGlobalPresenceTests(GatewayFactory factory)
{
    [Fact]
    public async Task A_user_sets_a_status_and_everyone_in_the_tenant_reads_it_with_profile_and_last_seen()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant, username: "annie");
        var put = await (await ann.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "keeping my stick on the ice")))).AssertOk();
        Assert.Equal("keeping my stick on the ice", put.GetProperty("data").GetProperty("presence").GetString());

        using var bob = factory.ClientFor("bob", tenant);
        var data = (await (await bob.GetAsync("/v1/users/ann/presence")).AssertOk()).GetProperty("data");
        Assert.Equal("ann", data.GetProperty("id").GetString());
        Assert.Equal("annie", data.GetProperty("username").GetString());
        Assert.Equal(JsonValueKind.String, data.GetProperty("avatar_image").ValueKind);
        Assert.Equal("keeping my stick on the ice", data.GetProperty("presence").GetString());
        var lastSeen = data.GetProperty("last_seen_at").GetString()!;
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", lastSeen);
        Assert.Equal(factory.Time.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture), lastSeen);

        var alias = (await (await bob.GetAsync("/v1/presence/ann")).AssertOk()).GetProperty("data");
        Assert.Equal("keeping my stick on the ice", alias.GetProperty("presence").GetString());
    }

    [Fact]
    public async Task Reading_an_online_user_activates_no_user_grain_and_an_offline_one_is_read_from_its_own()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant);
        await (await ann.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "busy")))).AssertOk();
        var grains = factory.Services.GetRequiredService<IGrainFactory>();
        var management = grains.GetGrain<IManagementGrain>(0);
        async Task<bool> Active(string userId)
        {
            var key = Presence.Model.PresenceKeys.Of(tenant, userId);
            var stats = await management.GetDetailedGrainStatistics();
            return stats.Any(s => s.GrainId.Type.ToString() == "presence-user" && s.GrainId.Key.ToString() == key);
        }
        await grains.GetGrain<Presence.Users.IUserPresenceGrain>(Presence.Model.PresenceKeys.Of(tenant, "ann")).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Poll.Until(async () => !await Active("ann"), "ann's grain is deactivated");

        using var bob = factory.ClientFor("bob", tenant);
        Assert.Equal("busy", (await (await bob.GetAsync("/v1/users/ann/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        Assert.Equal("busy", (await (await ann.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        Assert.False(await Active("ann"));

        // Someone offline is read from the user's own grain: the check above would have seen that.
        Assert.Equal("offline", (await (await bob.GetAsync("/v1/users/carl/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        Assert.True(await Active("carl"));
    }

    [Fact]
    public async Task A_user_never_seen_reads_offline_without_last_seen_at()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var data = (await (await client.GetAsync("/v1/users/stranger/presence")).AssertOk()).GetProperty("data");
        Assert.Equal("offline", data.GetProperty("presence").GetString());
        Assert.False(data.TryGetProperty("last_seen_at", out _));
    }

    [Theory]
    [InlineData(null, "online")]
    [InlineData("1", "online")]
    [InlineData("", "online")]
    [InlineData("away", "away")]
    public async Task Unset_or_1_means_online_and_any_other_text_is_a_custom_status(string? presence, string expected)
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var content = presence is null ? new ByteArrayContent([]) : (HttpContent)Pnut.Form(("presence", presence));
        if (presence is null)
        {
            content.Headers.ContentType = null; // what a published pnut client sends
        }
        var data = (await (await client.PutAsync("/v1/users/me/presence", content)).AssertOk()).GetProperty("data");
        Assert.Equal(expected, data.GetProperty("presence").GetString());
    }

    [Theory]
    [InlineData("offline")]
    [InlineData("0")]
    public async Task Offline_or_0_deletes_the_presence_and_removes_the_user_from_the_list(string value)
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ann", tenant);
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();
        Assert.Single((await (await client.GetAsync("/v1/presence")).AssertOk()).GetProperty("data").EnumerateArray());

        var data = (await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", value)))).AssertOk()).GetProperty("data");
        Assert.Equal("offline", data.GetProperty("presence").GetString());
        Assert.True(data.TryGetProperty("last_seen_at", out _));
        Assert.Empty((await (await client.GetAsync("/v1/presence")).AssertOk()).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task Presence_arrives_as_form_fields_json_or_query_string()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var json = await (await client.PutAsync("/v1/users/me/presence", Pnut.JsonBody("""{"presence":"from json"}"""))).AssertOk();
        Assert.Equal("from json", json.GetProperty("data").GetProperty("presence").GetString());
        var query = await (await client.PutAsync("/v1/users/me/presence?presence=from%20query", null)).AssertOk();
        Assert.Equal("from query", query.GetProperty("data").GetProperty("presence").GetString());
        var multipart = new MultipartFormDataContent { { new StringContent("from multipart"), "presence" } };
        var form = await (await client.PutAsync("/v1/users/me/presence", multipart)).AssertOk();
        Assert.Equal("from multipart", form.GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task A_status_is_limited_to_100_code_points_so_100_emoji_pass_and_101_letters_fail_leaving_state_unchanged()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var emoji = string.Concat(Enumerable.Repeat("🎉", 100));
        var ok = await (await client.PutAsync("/v1/users/me/presence", Pnut.JsonBody(JsonSerializer.Serialize(new { presence = emoji })))).AssertOk();
        Assert.Equal(emoji, ok.GetProperty("data").GetProperty("presence").GetString());

        var message = await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", new string('a', 101))))).AssertError(HttpStatusCode.BadRequest);
        Assert.Contains("100", message);
        var after = (await (await client.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data");
        Assert.Equal(emoji, after.GetProperty("presence").GetString());
    }

    [Theory]
    [InlineData("""{"presence": """, "malformed JSON")]
    [InlineData("""["here"]""", "object")]
    [InlineData("""{"presence": {"a": 1}}""", "string")]
    [InlineData("""{"presence": "tab\there"}""", "control")]
    [InlineData("""{"presence": "\ud800"}""", "malformed JSON")]
    public async Task Malformed_bodies_get_400_with_a_clear_message_and_change_nothing(string body, string expected)
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "before")))).AssertOk();
        var message = await (await client.PutAsync("/v1/users/me/presence", Pnut.JsonBody(body))).AssertError(HttpStatusCode.BadRequest);
        Assert.Contains(expected, message, StringComparison.OrdinalIgnoreCase);
        var after = (await (await client.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data");
        Assert.Equal("before", after.GetProperty("presence").GetString());
    }

    [Fact]
    public async Task Bodies_over_64_KiB_get_413_and_change_nothing()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "before")))).AssertOk();
        var big = Pnut.Form(("presence", "x"), ("padding", new string('p', 70_000)));
        await (await client.PutAsync("/v1/users/me/presence", big)).AssertError(HttpStatusCode.RequestEntityTooLarge);

        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("presence=x&padding=" + new string('p', 70_000))));
        chunked.Headers.ContentType = new("application/x-www-form-urlencoded");
        await (await client.PutAsync("/v1/users/me/presence", chunked)).AssertError(HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("before", (await (await client.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task A_form_with_too_many_fields_gets_400_not_a_server_error()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var fields = new StringContent(string.Join("&", Enumerable.Repeat("a", 2000)), Encoding.UTF8, "application/x-www-form-urlencoded");
        await (await client.PutAsync("/v1/users/me/presence", fields)).AssertError(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task An_unsupported_content_type_gets_415()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var xml = new StringContent("<presence>x</presence>", Encoding.UTF8, "application/xml");
        await (await client.PutAsync("/v1/users/me/presence", xml)).AssertError(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Updating_another_user_is_forbidden_unless_the_token_is_an_admin_token_of_the_tenant()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant);
        await (await ann.PutAsync("/v1/users/bob/presence", Pnut.Form(("presence", "hijacked")))).AssertError(HttpStatusCode.Forbidden);
        await (await ann.PutAsync("/v1/users/ann/presence", Pnut.Form(("presence", "by id")))).AssertOk();

        using var app = factory.ClientFor("app", tenant, role: "admin");
        var data = (await (await app.PutAsync("/v1/users/bob/presence", Pnut.Form(("presence", "set by app")))).AssertOk()).GetProperty("data");
        Assert.Equal("set by app", data.GetProperty("presence").GetString());
        Assert.Equal("bob", data.GetProperty("username").GetString()); // the app's profile is not given to bob
    }

    [Fact]
    public async Task Nothing_crosses_tenants_not_even_for_an_admin()
    {
        var (a, b) = (Keys.Tenant(), Keys.Tenant());
        using var annA = factory.ClientFor("ann", a);
        await (await annA.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "in A")))).AssertOk();

        using var adminB = factory.ClientFor("root", b, role: "admin");
        Assert.Equal("offline", (await (await adminB.GetAsync("/v1/users/ann/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        Assert.Empty((await (await adminB.GetAsync("/v1/presence")).AssertOk()).GetProperty("data").EnumerateArray());
        await (await adminB.PutAsync("/v1/users/ann/presence", Pnut.Form(("presence", "0")))).AssertOk();
        Assert.Equal("in A", (await (await annA.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task Update_presence_on_any_call_updates_the_caller_first_and_says_so_in_meta()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var json = await (await client.GetAsync("/v1/users/someone/presence?update_presence=lurking")).AssertOk();
        Assert.True(json.GetProperty("meta").GetProperty("updated_presence").GetBoolean());
        var mine = await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
        Assert.Equal("lurking", mine.GetProperty("data").GetProperty("presence").GetString());
        Assert.False(mine.GetProperty("meta").TryGetProperty("updated_presence", out _));

        var invalid = await (await client.GetAsync($"/v1/presence?update_presence={new string('x', 101)}")).AssertOk();
        Assert.False(invalid.GetProperty("meta").GetProperty("updated_presence").GetBoolean());
        Assert.Equal("lurking", (await (await client.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());

        var onError = await client.GetAsync("/v1/users/%40nobody/presence?update_presence=still%20here");
        await onError.AssertError(HttpStatusCode.BadRequest);
        Assert.Equal("still here", (await (await client.GetAsync("/v1/users/me/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task Update_presence_on_the_put_overrides_the_body_and_happens_once()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        var json = await (await client.PutAsync("/v1/users/me/presence?update_presence=from%20query", Pnut.Form(("presence", "from body")))).AssertOk();
        Assert.True(json.GetProperty("meta").GetProperty("updated_presence").GetBoolean());
        Assert.Equal("from query", json.GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task The_v0_routes_are_aliases_of_the_global_v1_routes()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ann", tenant);
        await (await client.PutAsync("/v0/users/me/presence", Pnut.Form(("presence", "v0")))).AssertOk();
        Assert.Equal("v0", (await (await client.GetAsync("/v0/users/ann/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        Assert.Single((await (await client.GetAsync("/v0/presence")).AssertOk()).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task The_online_list_pages_with_count_and_before_id_without_repeats_or_gaps()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 23).Select(i => $"u{i:D2}").ToArray();
        foreach (var id in ids)
        {
            using var user = factory.ClientFor(id, tenant);
            await (await user.PutAsync("/v1/users/me/presence", null)).AssertOk();
        }
        using var client = factory.ClientFor("reader", tenant);
        var seen = new List<string>();
        string? before = null;
        for (var pages = 0; pages < 20; pages++)
        {
            var json = await (await client.GetAsync($"/v1/presence?count=5{(before is null ? "" : "&before_id=" + before)}")).AssertOk();
            var data = json.GetProperty("data").EnumerateArray().ToArray();
            Assert.True(data.Length <= 5);
            seen.AddRange(data.Select(d => d.GetProperty("id").GetString()!));
            if (!json.GetProperty("meta").GetProperty("more").GetBoolean())
            {
                break;
            }
            before = json.GetProperty("meta").GetProperty("min_id").GetString();
        }
        Assert.Equal(ids, seen.Order());
    }

    [Theory]
    [InlineData("count=0")]
    [InlineData("count=abc")]
    [InlineData("before_id=not-a-cursor!")]
    [InlineData("before_id=Zm9vYmFy")]
    public async Task Bad_paging_parameters_get_400(string query)
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        await (await client.GetAsync("/v1/presence?" + query)).AssertError(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Ids_that_are_too_long_or_malformed_get_400()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        await (await client.GetAsync($"/v1/users/{new string('a', 65)}/presence")).AssertError(HttpStatusCode.BadRequest);
        await (await client.GetAsync("/v1/users/a%20b/presence")).AssertError(HttpStatusCode.BadRequest);
        await (await client.PutAsync($"/v1/users/{new string('a', 65)}/presence", null)).AssertError(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Presence_expires_after_the_default_ttl_and_the_user_leaves_the_list()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ann", tenant);
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();
        factory.Time.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal("offline", (await (await client.GetAsync("/v1/users/ann/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
        Assert.Empty((await (await client.GetAsync("/v1/presence")).AssertOk()).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task X_pretty_json_indents_the_response()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        client.DefaultRequestHeaders.Add("X-Pretty-Json", "1");
        var text = await (await client.GetAsync("/v1/users/me/presence")).Content.ReadAsStringAsync();
        Assert.Contains("\n  \"meta\"", text);
    }
}
