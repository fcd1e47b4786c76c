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

    private static string Token(string user) => GatewayFactory.Token(user, key: ProcessCluster.SigningKey);

    private static HttpClient Http(ProcessCluster cluster, int gateway) => new() { BaseAddress = cluster.Gateway(gateway) };
}
