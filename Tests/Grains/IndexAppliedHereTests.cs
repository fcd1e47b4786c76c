using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>
/// In the default deployment (one process, nodes that store nothing), an update whose node is active in the process is
/// applied there without a call, between the node's turns: listed at once, moved along its timeline by the node's timer
/// on time, and never lost or reordered when updates, reads, lists and timer turns of many users run together.
/// </summary>
[Collection(InMemoryClusterCollection.Name)]
public sealed class IndexAppliedHereTests(InMemoryClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("name", "Name", null);

    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    private IPresenceIndexGrain Root(string tenant) => fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));

    private Task<Dictionary<string, string?>> Listed(string tenant) => fixture.Grains.ListedStatuses(tenant);

    [Fact]
    public async Task Heartbeats_and_changes_of_a_listed_user_reach_its_node_without_a_call_and_are_listed_at_once()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromMinutes(5), Profile)); // the node's first user: by a call

        var calls = fixture.ApplyCalls.Count;
        for (var i = 0; i < 5; i++)
        {
            await ann.Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromMinutes(5), Profile));
        }
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(5), Profile));
        Assert.Equal("busy", (await Root(tenant).FindView("ann"))?.Status);
        Assert.Equal(new Dictionary<string, string?> { ["ann"] = "busy" }, await Listed(tenant));
        Assert.Equal(calls, fixture.ApplyCalls.Count);
    }

    [Fact]
    public async Task A_step_brought_earlier_by_an_update_applied_here_is_taken_by_the_nodes_timer_on_time()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate("device:web_1", PresenceStatus.Online, TimeSpan.FromMinutes(10), Profile));
        var calls = fixture.ApplyCalls.Count;
        await ann.Update(new PresenceUpdate("device:web_1", PresenceStatus.Online, TimeSpan.FromMinutes(2), Profile)); // due before any the node had
        Assert.Equal(calls, fixture.ApplyCalls.Count);
        Assert.Equal(1, fixture.PoolInstance(tenant)!.OnlineCount(tenant));

        // Nothing asks the node meanwhile (a list or a call would move due steps itself): its timer alone takes her offline.
        await fixture.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1)); // the node's timer keeps whole seconds
        await Poll.Until(() => Task.FromResult(fixture.PoolInstance(tenant)?.OnlineCount(tenant) is null or 0), "offline by the node's timer when her presence ended");
        Assert.Empty(await Listed(tenant));
        Assert.Equal(PresenceStatus.Offline, (await ann.Get()).Status);
    }

    [Fact]
    public async Task Many_users_updated_at_once_while_their_nodes_list_split_and_expire_end_listed_exactly_as_their_grains_say()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 6 * ClusterFixture.SplitAt).Select(i => $"u{i:D3}").ToArray(); // enough to split down to one-shard nodes
        string[] statuses = [PresenceStatus.Online, "busy", "away", PresenceStatus.Offline];
        var random = new Random(7);
        var bursts = new List<Task>();
        for (var round = 0; round < 8; round++)
        {
            foreach (var id in ids)
            {
                var status = statuses[random.Next(statuses.Length)];
                var ttl = TimeSpan.FromSeconds(random.Next(30, 600));
                var user = User(tenant, id);
                bursts.Add(status == PresenceStatus.Offline
                    ? user.Update(new PresenceUpdate(PresenceSources.Api, null, null, Profile))
                    : user.Update(new PresenceUpdate(PresenceSources.Api, status, ttl, Profile)));
            }
            bursts.Add(Listed(tenant));
            if (round % 3 == 2)
            {
                bursts.Add(fixture.Advance(TimeSpan.FromSeconds(20))); // timer turns among the updates
            }
        }
        await Task.WhenAll(bursts);

        await Poll.Until(() => fixture.Grains.ListsAsGrainsSay(tenant, ids), "every user listed as its grain says");
        Assert.True(fixture.ApplyCalls.Count > 0);
    }
}
