using System.Net.Http.Headers;
using Presence.Tests.Postgres;
using Presence.Tests.Support;

namespace Presence.Tests.Faults;

/// <summary>
/// Realtime presence across real processes (2 silos, 2 gateways as Orleans clients, PostgreSQL): events cross
/// gateways, and a gateway that dies takes its users offline by lease.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ClusterRealtimeTests : MigratedDatabaseTests
{
    [PostgresFact]
    public async Task A_stream_on_one_gateway_is_seen_on_another_and_a_dead_gateways_users_go_offline_by_lease()
    {
        await using var cluster = new ProcessCluster(Database.ConnectionString, silos: 2, gateways: 2,
            ("Presence__Realtime__Lease", "00:00:03"),
            ("Presence__Realtime__DisconnectGrace", "00:00:01"));
        cluster.StartAll();
        await cluster.WaitReady(TimeSpan.FromSeconds(120));

        await using var watcher = await SseClient.Open(Http(cluster, 1), Token("watcher"), "users=ann,bob&channels=room");

        // A stream opened through gateway 0 makes its user online; gateway 1's watcher hears of it.
        var ann = await SseClient.Open(Http(cluster, 0), Token("ann"));
        Assert.True((await watcher.NextUserChange("ann")).GetProperty("user").GetProperty("online").GetBoolean());

        // Closing it: offline after the grace period.
        await ann.DisposeAsync();
        Assert.False((await watcher.NextUserChange("ann")).GetProperty("user").GetProperty("online").GetBoolean());

        // Channel presence set through gateway 0 reaches gateway 1's channel watcher.
        using (var carl = Http(cluster, 0))
        {
            carl.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token("carl"));
            await (await carl.PutAsync("/v1/users/me/presence/channels/room", Pnut.Form(("presence", "typing")))).AssertOk();
        }
        Assert.Equal("carl", (await watcher.Next("channel.presence.changed")).GetProperty("user").GetProperty("id").GetString());

        // A gateway killed with a stream open: its user is not a ghost, the lease ends the hold.
        var bob = await SseClient.Open(Http(cluster, 0), Token("bob"));
        Assert.True((await watcher.NextUserChange("bob")).GetProperty("user").GetProperty("online").GetBoolean());
        cluster.KillGateway(0);
        var offline = await watcher.NextUserChange("bob");
        Assert.False(offline.GetProperty("user").GetProperty("online").GetBoolean());
        await bob.DisposeAsync();
    }

    [PostgresFact]
    public async Task A_stream_chat_socket_on_one_gateway_is_seen_on_another_and_a_dead_gateways_sockets_end_their_presence_and_watching()
    {
        await using var cluster = new ProcessCluster(Database.ConnectionString, silos: 1, gateways: 2,
            ("Presence__Realtime__Lease", "00:00:03"),
            ("Presence__Realtime__DisconnectGrace", "00:00:01"),
            ("Presence__Stream__Apps__" + Stream.StreamChatGatewayFactory.Key + "__Secret", Stream.StreamChatGatewayFactory.Secret));
        cluster.StartAll();
        await cluster.WaitReady(TimeSpan.FromSeconds(120));
        using var server = Stream.StreamChatClient.Rest(cluster.Gateway(1), Stream.StreamChatClient.ServerToken());
        await StreamOk(await server.PostAsync(Stream.StreamChatClient.Route("/users"), Stream.StreamChatClient.Json("""{"users":{"sam":{"id":"sam","name":"Sam"}}}""")));

        // Wendy's socket is on gateway 1, and watches sam and a channel through gateway 1's REST.
        var (wendy, wendyFirst) = await Stream.StreamSocket.Connect(cluster.Gateway(1), "wendy");
        await using var watching = wendy;
        var wendyConnection = wendyFirst.GetProperty("connection_id").GetString();
        using var wendyRest = Stream.StreamChatClient.Rest(cluster.Gateway(1), Stream.StreamChatClient.UserToken("wendy"));
        await StreamOk(await wendyRest.GetAsync(Stream.StreamChatClient.Route("/users?payload=" + Uri.EscapeDataString("""{"filter_conditions":{"id":"sam"},"presence":true}"""), wendyConnection)));
        await StreamOk(await wendyRest.PostAsync(Stream.StreamChatClient.Route("/channels/messaging/hall/query", wendyConnection), Stream.StreamChatClient.Json("""{"watch":true}""")));

        // Sam connects through gateway 0 and watches the channel there: wendy hears both on gateway 1.
        var (sam, samFirst) = await Stream.StreamSocket.Connect(cluster.Gateway(0), "sam");
        await using var _ = sam;
        var online = await wendy.Next(f => Stream.StreamSocket.OfType("user.presence.changed")(f) && f.GetProperty("user").GetProperty("id").GetString() == "sam");
        Assert.True(online.GetProperty("user").GetProperty("online").GetBoolean());
        var samConnection = samFirst.GetProperty("connection_id").GetString();
        using var samRest = Stream.StreamChatClient.Rest(cluster.Gateway(0), Stream.StreamChatClient.UserToken("sam"));
        await StreamOk(await samRest.PostAsync(Stream.StreamChatClient.Route("/channels/messaging/hall/query", samConnection), Stream.StreamChatClient.Json("""{"watch":true}""")));
        var start = await wendy.Next(f => Stream.StreamSocket.OfType("user.watching.start")(f) && f.GetProperty("user").GetProperty("id").GetString() == "sam");
        Assert.Equal(2, start.GetProperty("watcher_count").GetInt32());

        // Sam's connection id names nothing on gateway 1: a watch must reach the socket's gateway.
        using var samElsewhere = Stream.StreamChatClient.Rest(cluster.Gateway(1), Stream.StreamChatClient.UserToken("sam"));
        var (status, body) = await Stream.StreamChatClient.Read(await samElsewhere.PostAsync(
            Stream.StreamChatClient.Route("/channels/messaging/hall/stop-watching", samConnection), Stream.StreamChatClient.Json("{}")));
        Assert.Equal((400, 46), (status, body.GetProperty("code").GetInt32()));

        // Gateway 0 dies with sam's socket open: sam goes offline by lease, and stops watching within its hold.
        cluster.KillGateway(0);
        var offline = await wendy.Next(f => Stream.StreamSocket.OfType("user.presence.changed")(f) && f.GetProperty("user").GetProperty("id").GetString() == "sam");
        Assert.False(offline.GetProperty("user").GetProperty("online").GetBoolean());
        Assert.Equal("Sam", offline.GetProperty("user").GetProperty("name").GetString());
        var stop = await wendy.Next(f => Stream.StreamSocket.OfType("user.watching.stop")(f) && f.GetProperty("user").GetProperty("id").GetString() == "sam",
            within: TimeSpan.FromSeconds(30)); // the watcher's hold: 3 leases from its last renewal
        Assert.Equal(1, stop.GetProperty("watcher_count").GetInt32());
    }

    private static async Task StreamOk(HttpResponseMessage response)
    {
        var (status, body) = await Stream.StreamChatClient.Read(response);
        Assert.True(status == 200, body.ToString());
    }

    private static string Token(string user) => GatewayFactory.Token(user, key: ProcessCluster.SigningKey);

    private static HttpClient Http(ProcessCluster cluster, int gateway) => new() { BaseAddress = cluster.Gateway(gateway) };
}
