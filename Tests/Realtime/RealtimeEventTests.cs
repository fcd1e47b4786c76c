using Presence.Client;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Presence.Gateway.Realtime;
using Presence.Tests.Support;

namespace Presence.Tests.Realtime;

[Collection(RealtimeCollection.Name)]
public sealed class RealtimeEventTests(RealtimeGatewayFactory factory)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(600);

    private HeldPresence Held => factory.Services.GetRequiredService<HeldPresence>();

    private async Task Put(string tenant, string user, params (string Key, string Value)[] fields)
    {
        using var client = factory.ClientFor(user, tenant);
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(fields))).AssertOk();
    }

    private async Task<JsonElement> Read(string tenant, string reader, string user)
    {
        using var client = factory.ClientFor(reader, tenant);
        return (await (await client.GetAsync($"/v1/users/{user}/presence")).AssertOk()).GetProperty("data");
    }

    [Fact]
    public async Task An_sse_stream_opens_at_once_and_delivers_a_watched_users_status_changes_in_streams_shape()
    {
        var tenant = Keys.Tenant();
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "users=ann");
        Assert.Equal("w", watcher.Hello.GetProperty("me").GetProperty("id").GetString());
        Assert.True(watcher.Hello.GetProperty("me").GetProperty("online").GetBoolean());
        Assert.Equal("no-cache", watcher.Response.Headers.CacheControl?.ToString());

        await Put(tenant, "ann", ("presence", "away"));
        var changed = await watcher.NextUserChange("ann");
        var user = changed.GetProperty("user");
        Assert.Equal("away", user.GetProperty("status").GetString());
        Assert.True(user.GetProperty("online").GetBoolean());
        Assert.Equal("ann", user.GetProperty("username").GetString());
        Assert.True(DateTimeOffset.TryParse(user.GetProperty("last_active").GetString(), out _));
        Assert.True(DateTimeOffset.TryParse(changed.GetProperty("created_at").GetString(), out _));

        // The same status again is no change: no event.
        await Put(tenant, "ann", ("presence", "away"));
        await watcher.AssertNoEvent(Quiet, e => e.GetProperty("type").GetString() == "user.presence.changed");

        await Put(tenant, "ann", ("presence", "offline"));
        var offline = (await watcher.NextUserChange("ann")).GetProperty("user");
        Assert.False(offline.GetProperty("online").GetBoolean());
        Assert.Equal("offline", offline.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_check_comes_first_even_for_a_user_watching_itself()
    {
        var tenant = Keys.Tenant();
        await using var self = await SseClient.Open(factory, GatewayFactory.Token("narcissus", tenant), "users=narcissus");
        Assert.True(self.Hello.GetProperty("me").GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task A_stream_that_could_not_open_leaves_no_ghost_online()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("olga", tenant);
        var refused = await client.GetAsync("/v1/events?users=" + string.Join(',', Enumerable.Range(0, 9).Select(i => "u" + i)));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("offline", (await Read(tenant, "w", "olga")).GetProperty("presence").GetString());
        Assert.False(Held.Holds(tenant, "olga"));
    }

    [Fact]
    public async Task A_websocket_with_the_token_in_the_query_gets_the_same_events()
    {
        var tenant = Keys.Tenant();
        await using var watcher = await WsClient.Open(factory, GatewayFactory.Token("w", tenant), "users=bob");
        await Put(tenant, "bob", ("presence", "busy"));
        var user = (await watcher.NextUserChange("bob")).GetProperty("user");
        Assert.Equal("busy", user.GetProperty("status").GetString());
        await watcher.Close();
    }

    [Fact]
    public async Task A_websocket_opens_on_the_stream_path_with_a_trailing_slash_too()
    {
        // Routing sends /v1/stream/ to the stream: the WebSocket middleware and the access_token must follow it there.
        await using var watcher = await WsClient.Open(factory, GatewayFactory.Token("w", Keys.Tenant()), "users=x", path: "/v1/stream/");
        Assert.Equal("health.check", watcher.Hello.GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_sse_stream_accepts_the_token_as_access_token_too()
    {
        var tenant = Keys.Tenant();
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "users=x", tokenInQuery: true);
        Assert.Equal("health.check", watcher.Hello.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_watched_channel_reports_its_members_status_and_anyones_channel_presence_but_nothing_of_non_members()
    {
        var tenant = Keys.Tenant();
        using (var member = factory.ClientFor("mem", tenant))
        {
            await (await member.PutAsync("/v1/channels/room/subscribe", null)).AssertOk();
        }
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "channels=room");

        await Put(tenant, "stranger", ("presence", "away"));
        await Put(tenant, "mem", ("presence", "away"));
        var first = await watcher.Next("user.presence.changed");
        Assert.Equal("mem", first.GetProperty("user").GetProperty("id").GetString());

        // Channel presence is public within the tenant: a non-member's is reported too.
        using (var stranger = factory.ClientFor("stranger", tenant))
        {
            await (await stranger.PutAsync("/v1/users/me/presence/channels/room", Pnut.Form(("presence", "typing")))).AssertOk();
        }
        var channel = await watcher.Next("channel.presence.changed");
        Assert.Equal("room", channel.GetProperty("channel_id").GetString());
        Assert.Equal("stranger", channel.GetProperty("user").GetProperty("id").GetString());
        Assert.Equal("typing", channel.GetProperty("user").GetProperty("presence").GetString());

        // Someone who joins later is watched from then on.
        using (var late = factory.ClientFor("late", tenant))
        {
            await (await late.PutAsync("/v1/channels/room/subscribe", null)).AssertOk();
        }
        await Task.Delay(200); // the join reaches the gateway one-way
        await Put(tenant, "late", ("presence", "lunch"));
        Assert.Equal("lunch", (await watcher.NextUserChange("late")).GetProperty("user").GetProperty("status").GetString());
    }

    [Fact]
    public async Task An_open_stream_holds_its_user_online_and_the_last_close_takes_it_offline_only_after_the_grace_period()
    {
        var tenant = Keys.Tenant();
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "users=cat");
        var tab1 = await SseClient.Open(factory, GatewayFactory.Token("cat", tenant));
        Assert.True((await watcher.NextUserChange("cat")).GetProperty("user").GetProperty("online").GetBoolean());
        var tab2 = await WsClient.Open(factory, GatewayFactory.Token("cat", tenant));
        Assert.Equal("online", (await Read(tenant, "w", "cat")).GetProperty("presence").GetString());

        // One of two tabs closing changes nothing.
        await tab1.DisposeAsync();
        await Poll.Until(() => Held.Connections(tenant, "cat") == 1, "the gateway noticed the first tab closed", EventClient.Patience);
        factory.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("online", (await Read(tenant, "w", "cat")).GetProperty("presence").GetString());

        // The last one: still online within the grace period, offline after it.
        await tab2.Close();
        await Poll.Until(() => !Held.Holds(tenant, "cat"), "the gateway released cat's hold", EventClient.Patience);
        factory.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("online", (await Read(tenant, "w", "cat")).GetProperty("presence").GetString());
        await watcher.AssertNoEvent(Quiet, e => e.GetProperty("type").GetString() == "user.presence.changed");
        factory.Time.Advance(TimeSpan.FromSeconds(6));
        var offline = (await watcher.NextUserChange("cat")).GetProperty("user");
        Assert.False(offline.GetProperty("online").GetBoolean());
        Assert.Equal("offline", (await Read(tenant, "w", "cat")).GetProperty("presence").GetString());
    }

    [Fact]
    public async Task An_open_stream_keeps_no_grain_activation_of_its_user_and_the_user_stays_online()
    {
        // An idle stream costs its gateway's memory only: the index shard holds its user's timeline and watches the
        // gateway's lease, so the user grain is let go once the hold is set.
        var tenant = Keys.Tenant();
        await using var stream = await SseClient.Open(factory, GatewayFactory.Token("idle", tenant));
        var user = GrainId.Create("presence-user", PresenceKeys.Of(tenant, "idle"));
        var management = factory.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        await Poll.Until(async () => !(await management.GetActiveGrains(GrainType.Create("presence-user"))).Contains(user), "the user grain was deactivated", EventClient.Patience);
        var directory = factory.Services.GetRequiredService<IGrainFactory>().GetGrain<Presence.Index.IPresenceDirectoryGrain>(tenant);
        Assert.Contains((await directory.ListOnline(null, 100)).Users, u => u.UserId == "idle");
        Assert.Equal("online", (await Read(tenant, "w", "idle")).GetProperty("presence").GetString());
    }

    [Fact]
    public async Task A_gateway_whose_hold_a_shard_let_go_of_sets_its_users_holds_again_at_its_next_renewal()
    {
        // As after a shard lost its holds in a crash, or a gateway cut off for longer than its lease.
        var tenant = Keys.Tenant();
        await using var stream = await SseClient.Open(factory, GatewayFactory.Token("phoenix", tenant));
        var grains = factory.Services.GetRequiredService<IGrainFactory>();
        var shard = grains.GetGrain<Presence.Index.IPresenceIndexGrain>(factory.Services.GetRequiredService<IPresenceGrains>().ShardOf(tenant, "phoenix").ToString());
        factory.Time.Advance(TimeSpan.FromSeconds(1)); // the hold was set before the lease now renewed
        Assert.True(await shard.RenewHoldAlive(Held.Source, TimeSpan.Zero)); // the lease ends now
        factory.Time.Advance(TimeSpan.FromMilliseconds(1)); // the shard's timer: it releases the hold

        await Poll.Until(async () => (await Read(tenant, "w", "phoenix")).GetProperty("presence").GetString() == "offline", "phoenix reads offline", EventClient.Patience);
        factory.Time.Advance(TimeSpan.FromSeconds(20)); // the gateway's next round: the shard says it let go
        await Poll.Until(async () => (await Read(tenant, "w", "phoenix")).GetProperty("presence").GetString() == "online", "phoenix reads online", EventClient.Patience);
    }

    [Fact]
    public async Task A_reconnect_within_the_grace_period_does_not_flap()
    {
        var tenant = Keys.Tenant();
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "users=dan");
        var first = await SseClient.Open(factory, GatewayFactory.Token("dan", tenant));
        await watcher.NextUserChange("dan");
        await first.DisposeAsync();
        await Poll.Until(() => !Held.Holds(tenant, "dan"), "the gateway released dan's hold", EventClient.Patience);
        factory.Time.Advance(TimeSpan.FromSeconds(5));
        await using var second = await SseClient.Open(factory, GatewayFactory.Token("dan", tenant));
        factory.Time.Advance(TimeSpan.FromSeconds(20));
        await watcher.AssertNoEvent(Quiet, e => e.GetProperty("type").GetString() == "user.presence.changed");
        Assert.Equal("online", (await Read(tenant, "w", "dan")).GetProperty("presence").GetString());
    }

    [Fact]
    public async Task An_invisible_user_is_offline_to_everyone_else_with_last_seen_frozen_and_sees_itself_as_it_is()
    {
        var tenant = Keys.Tenant();
        await Put(tenant, "eve", ("presence", "busy"));
        using (var eve = factory.ClientFor("eve", tenant))
        {
            await (await eve.PutAsync("/v1/users/me/presence/channels/hall", Pnut.Form(("presence", "here")))).AssertOk();
        }
        var seenBefore = (await Read(tenant, "w", "eve")).GetProperty("last_seen_at").GetString();
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "users=eve&channels=hall");

        factory.Time.Advance(TimeSpan.FromSeconds(5));
        await Put(tenant, "eve", ("invisible", "true"));
        Assert.False((await watcher.NextUserChange("eve")).GetProperty("user").GetProperty("online").GetBoolean());
        var hidden = await watcher.Next("channel.presence.changed");
        Assert.Equal("offline", hidden.GetProperty("user").GetProperty("presence").GetString());

        // Activity while invisible gives nothing away: not the status, not the time.
        factory.Time.Advance(TimeSpan.FromSeconds(5));
        await Put(tenant, "eve", ("presence", "busy"));
        var seen = await Read(tenant, "w", "eve");
        Assert.Equal("offline", seen.GetProperty("presence").GetString());
        Assert.Equal(seenBefore, seen.GetProperty("last_seen_at").GetString());
        Assert.False(seen.TryGetProperty("invisible", out _));
        await watcher.AssertNoEvent(Quiet);

        using var other = factory.ClientFor("w", tenant);
        var online = (await (await other.GetAsync("/v1/presence")).AssertOk()).GetProperty("data");
        Assert.DoesNotContain(online.EnumerateArray(), u => u.GetProperty("id").GetString() == "eve");
        var inHall = (await (await other.GetAsync("/v1/channels/hall/presence")).AssertOk()).GetProperty("data");
        Assert.Empty(inHall.EnumerateArray());
        var memberView = (await (await other.GetAsync("/v1/users/eve/presence/channels/hall")).AssertOk()).GetProperty("data");
        Assert.Equal("offline", memberView.GetProperty("presence").GetString());

        var own = await Read(tenant, "eve", "me");
        Assert.Equal("busy", own.GetProperty("presence").GetString());
        Assert.True(own.GetProperty("invisible").GetBoolean());

        // A reconnect keeps it invisible; setting it false shows the user again.
        await using (var stream = await SseClient.Open(factory, GatewayFactory.Token("eve", tenant)))
        {
            Assert.True(stream.Hello.GetProperty("me").GetProperty("invisible").GetBoolean());
        }
        Assert.Equal("offline", (await Read(tenant, "w", "eve")).GetProperty("presence").GetString());
        await Put(tenant, "eve", ("invisible", "false"));
        Assert.Equal("busy", (await watcher.NextUserChange("eve")).GetProperty("user").GetProperty("status").GetString());
        Assert.Equal("busy", (await Read(tenant, "w", "eve")).GetProperty("presence").GetString());
        Assert.Equal("here", (await (await other.GetAsync("/v1/users/eve/presence/channels/hall")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task A_put_carrying_only_invisible_changes_nothing_else_and_a_bad_flag_is_refused()
    {
        var tenant = Keys.Tenant();
        await Put(tenant, "fay", ("presence", "away"));
        using var fay = factory.ClientFor("fay", tenant);
        var reply = (await (await fay.PutAsync("/v1/users/me/presence", Pnut.JsonBody("""{"invisible":true}"""))).AssertOk()).GetProperty("data");
        Assert.Equal("away", reply.GetProperty("presence").GetString());
        Assert.True(reply.GetProperty("invisible").GetBoolean());
        await (await fay.PutAsync("/v1/users/me/presence", Pnut.Form(("invisible", "maybe")))).AssertError(HttpStatusCode.BadRequest);
        Assert.True((await Read(tenant, "fay", "me")).GetProperty("invisible").GetBoolean());
    }

    [Fact]
    public async Task The_callers_agora_subscriptions_are_watched_on_every_stream()
    {
        var tenant = "org-" + Guid.NewGuid().ToString("N")[..8] + "/app";
        using (var agora = factory.ClientFor("gus", tenant))
        {
            var response = await agora.PostAsync($"/{tenant}/users/gus/presence/3600", Pnut.JsonBody("""{"usernames":["hal"]}"""));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("gus", tenant));
        await Put(tenant, "hal", ("presence", "online"));
        Assert.True((await watcher.NextUserChange("hal")).GetProperty("user").GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task Presence_switched_off_for_a_channel_type_accepts_none_lists_none_and_sends_no_events()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ida", tenant);
        var error = await (await client.PutAsync("/v1/users/me/presence/channels/muted:x", Pnut.Form(("presence", "here")))).AssertError(HttpStatusCode.BadRequest);
        Assert.Contains("muted", error);
        await (await client.PutAsync("/v1/channels/muted:x/subscribe", null)).AssertOk();
        Assert.Empty((await (await client.GetAsync("/v1/channels/muted:x/presence")).AssertOk()).GetProperty("data").EnumerateArray());

        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", tenant), "channels=muted:x");
        await Put(tenant, "ida", ("presence", "away"));
        await watcher.AssertNoEvent(Quiet);

        // Other types are untouched.
        await (await client.PutAsync("/v1/users/me/presence/channels/messaging:x", Pnut.Form(("presence", "here")))).AssertOk();
    }

    [Theory]
    [InlineData("users=a,b,c,d,e,f", "at most 5 users")]
    [InlineData("channels=a,b,c,d", "at most 3 channels")]
    [InlineData("users=bad%20id", "not a valid user id")]
    [InlineData("channels=%2F%2F", "not a valid channel id")]
    public async Task Past_a_limit_or_with_a_bad_id_a_stream_is_refused_with_a_clear_400_in_streams_format(string query, string message)
    {
        using var client = factory.ClientFor("w", Keys.Tenant());
        var response = await client.GetAsync("/v1/events?" + query);
        await AssertStreamError(response, HttpStatusCode.BadRequest, 4, message);
    }

    [Fact]
    public async Task A_user_past_its_connection_limit_is_refused()
    {
        var tenant = Keys.Tenant();
        var token = GatewayFactory.Token("jo", tenant);
        await using var a = await SseClient.Open(factory, token);
        await using var b = await SseClient.Open(factory, token);
        await using var c = await SseClient.Open(factory, token);
        using var client = factory.ClientFor("jo", tenant);
        await AssertStreamError(await client.GetAsync("/v1/events"), HttpStatusCode.BadRequest, 4, "at most 3 open streams");
    }

    [Fact]
    public async Task Streams_without_a_valid_token_or_without_an_upgrade_are_refused_in_streams_format()
    {
        using var anonymous = factory.CreateClient();
        await AssertStreamError(await anonymous.GetAsync("/v1/events"), HttpStatusCode.Unauthorized, 5, "token");
        await AssertStreamError(await anonymous.GetAsync("/v1/events?access_token=nonsense"), HttpStatusCode.Unauthorized, 5, "token");
        using var client = factory.ClientFor("w", Keys.Tenant());
        await AssertStreamError(await client.GetAsync("/v1/stream"), HttpStatusCode.BadRequest, 4, "WebSocket");
    }

    [Fact]
    public async Task Sse_streams_get_keep_alive_comments()
    {
        await using var watcher = await SseClient.Open(factory, GatewayFactory.Token("w", Keys.Tenant()));
        factory.Time.Advance(TimeSpan.FromSeconds(15));
        await Poll.Until(() => watcher.KeepAlives > 0, "a keep-alive arrived", EventClient.Patience);
    }

    private static async Task AssertStreamError(HttpResponseMessage response, HttpStatusCode status, int code, string message)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Equal(code, json.GetProperty("code").GetInt32());
        Assert.Equal((int)status, json.GetProperty("StatusCode").GetInt32());
        Assert.Contains(message, json.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
    }
}
