using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>An index node costs nothing once it holds nothing: it stays while it holds users or their recent changes, then goes.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ShardIdleTests(ClusterFixture fixture)
{
    private IManagementGrain Management => fixture.Grains.GetGrain<IManagementGrain>(0);


    /// <summary>Collects every activation that lets itself be collected, however short its idleness.</summary>
    private Task Collect() => Management.ForceActivationCollection(TimeSpan.Zero);

    private async Task<int> ActiveShards(string tenant)
    {
        var ids = ClusterFixture.NodeKeys(tenant).Select(k => fixture.Grains.GetGrain<IPresenceIndexGrain>(k).GetGrainId()).ToHashSet();
        var stats = await Management.GetDetailedGrainStatistics();
        return stats.Count(s => ids.Contains(s.GrainId));
    }

    [Fact]
    public async Task An_empty_tenant_holds_nothing_after_a_listing_and_a_small_one_only_its_root_in_a_pool()
    {
        var tenant = Keys.Tenant();
        Assert.Empty((await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 10)).Users);
        Assert.Equal(0, await ActiveShards(tenant)); // no grain of its own
        Assert.False(fixture.PoolInstance(tenant)?.Holds(tenant) ?? false, "its pool holds no root of it");

        await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ida"))
            .Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromMinutes(1), null));
        Assert.Single((await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 10)).Users);
        Assert.Equal(0, await ActiveShards(tenant));
        Assert.True(fixture.PoolInstance(tenant)?.Holds(tenant), "its root is in its pool");
    }

    [Fact]
    public async Task A_shard_stays_while_it_holds_a_user_or_its_recent_changes_and_goes_when_it_holds_nothing()
    {
        var tenant = Keys.Tenant();
        var user = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ida"));
        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));
        await user.Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromMinutes(1), null));
        await Collect();
        Assert.True(fixture.PoolInstance(tenant)?.Holds(tenant), "its root holds its user, whose timeline only it moves offline");

        // Offline: the change stays in the shard's log (Rocket.Chat's `from` deltas read it), and so does the shard.
        await fixture.Advance(TimeSpan.FromMinutes(2));
        await Poll.Until(async () => (await shard.List(null, 10)).Users.Length == 0, "the user offline");
        await Collect();
        Assert.True(fixture.PoolInstance(tenant)?.Holds(tenant), "its root holds the user's recent change");
        var since = fixture.Time.GetUtcNow() - TimeSpan.FromMinutes(5);
        Assert.Contains(await shard.ChangesSince(since), c => c.UserId == "ida" && c.Status == PresenceStatus.Offline);

        // Past the log's window: nothing is left, and the shard goes.
        await fixture.Advance(TimeSpan.FromMinutes(11));
        await Poll.Until(async () => (await shard.ChangesSince(since)).Length == 0, "the log pruned");
        await Poll.Until(async () =>
        {
            await Collect();
            return !(fixture.PoolInstance(tenant)?.Holds(tenant) ?? false);
        }, "the empty root unloaded from its pool");
    }
}
