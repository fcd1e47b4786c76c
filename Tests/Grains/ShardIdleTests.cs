using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>An index shard costs nothing once it holds nothing: it stays while it holds users or their recent changes, then goes.</summary>
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
    public async Task An_empty_tenants_root_goes_once_idle_after_a_listing_woke_it()
    {
        var tenant = Keys.Tenant();
        Assert.Empty((await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 10)).Users);
        Assert.Equal(1, await ActiveShards(tenant)); // a small tenant is one node
        await Collect();
        Assert.Equal(0, await ActiveShards(tenant));
    }

    [Fact]
    public async Task A_shard_stays_while_it_holds_a_user_or_its_recent_changes_and_goes_when_it_holds_nothing()
    {
        var tenant = Keys.Tenant();
        var user = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ida"));
        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));
        await user.Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromMinutes(1), null));
        await Collect();
        Assert.Equal(1, await ActiveShards(tenant)); // its user, whose timeline only it moves offline

        // Offline: the change stays in the shard's log (Rocket.Chat's `from` deltas read it), and so does the shard.
        await fixture.Advance(TimeSpan.FromMinutes(2));
        await Poll.Until(async () => (await shard.List(null, 10)).Users.Length == 0, "the user offline");
        await Collect();
        Assert.Equal(1, await ActiveShards(tenant));
        var since = fixture.Time.GetUtcNow() - TimeSpan.FromMinutes(5);
        Assert.Contains(await shard.ChangesSince(since), c => c.UserId == "ida" && c.Status == PresenceStatus.Offline);

        // Past the log's window: nothing is left, and the shard goes.
        await fixture.Advance(TimeSpan.FromMinutes(11));
        await Poll.Until(async () => (await shard.ChangesSince(since)).Length == 0, "the log pruned");
        await Poll.Until(async () =>
        {
            await Collect();
            return await ActiveShards(tenant) == 0;
        }, "the empty shard collected");
    }
}
