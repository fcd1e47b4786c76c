using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>
/// A gateway's stream hold: a user source with a long backstop, kept alive by the gateway's per-shard renewals, and
/// released by the shard when they stop (the gateway died).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StreamHoldTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Backstop = TimeSpan.FromMinutes(15);

    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    private IPresenceIndexGrain ShardOf(string tenant, string id)
        => fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));

    private static string NewGateway() => PresenceSources.StreamPrefix + Guid.NewGuid().ToString("N");

    private async Task<bool> Listed(string tenant, string id)
        => (await ShardOf(tenant, id).List(null, 1000)).Users.Any(u => u.UserId == id);

    [Fact]
    public async Task A_hold_lives_while_its_gateway_renews_it_with_the_shard_and_is_released_when_that_stops()
    {
        var tenant = Keys.Tenant();
        var gateway = NewGateway();
        var shard = ShardOf(tenant, "held");
        Assert.False(await shard.RenewHoldAlive(gateway, Lease)); // the shard did not know this gateway
        await User(tenant, "held").Update(new PresenceUpdate(gateway, PresenceStatus.Online, Backstop, null));

        // Renewed with the shard, never with the user: online well past one lease.
        for (var i = 0; i < 4; i++)
        {
            await fixture.Advance(Lease / 3);
            Assert.True(await shard.RenewHoldAlive(gateway, Lease));
        }
        Assert.True(await Listed(tenant, "held"));
        Assert.Equal(PresenceStatus.Online, (await User(tenant, "held").Get()).Status);

        // The gateway dies: no more renewals. Offline when the lease ends, and not before.
        await fixture.Advance(Lease - TimeSpan.FromSeconds(1));
        Assert.True(await Listed(tenant, "held"));
        await fixture.Advance(TimeSpan.FromSeconds(2));
        await Poll.Until(async () => !await Listed(tenant, "held"), "the shard released the hold");
        Assert.Equal(PresenceStatus.Offline, (await User(tenant, "held").Get()).Status);

        // A gateway that comes back (it was only cut off) learns that its hold lapsed.
        Assert.False(await shard.RenewHoldAlive(gateway, Lease));
    }

    [Fact]
    public async Task A_hold_set_again_after_its_lease_ended_outlives_the_release_of_the_old_one()
    {
        var tenant = Keys.Tenant();
        var gateway = NewGateway();
        var user = User(tenant, "back");
        await ShardOf(tenant, "back").RenewHoldAlive(gateway, Lease);
        await user.Update(new PresenceUpdate(gateway, PresenceStatus.Online, Backstop, null));
        var setBefore = fixture.Time.GetUtcNow() + TimeSpan.FromSeconds(1);

        await fixture.Advance(TimeSpan.FromSeconds(2));
        await user.Update(new PresenceUpdate(gateway, PresenceStatus.Online, Backstop, null, Renewal: true));
        await user.ReleaseHold(gateway, setBefore); // late: the gateway set its hold again since
        // One-way, and Orleans does not promise it is handled before a later call: give it time (a release that went
        // through shows within a few milliseconds), then check nothing changed.
        await Task.Delay(300);
        Assert.Equal(PresenceStatus.Online, (await user.Get()).Status);
        Assert.True(await Listed(tenant, "back"));

        await user.ReleaseHold(gateway, fixture.Time.GetUtcNow() + TimeSpan.FromSeconds(1));
        await Poll.Until(async () => (await user.Get()).Status == PresenceStatus.Offline, "the hold was released");
    }

    [Fact]
    public async Task A_shard_moved_gracefully_keeps_its_gateways_holds_and_still_releases_them_on_time()
    {
        var tenant = Keys.Tenant();
        var gateway = NewGateway();
        var shard = ShardOf(tenant, "moved");
        await shard.RenewHoldAlive(gateway, Lease);
        await User(tenant, "moved").Update(new PresenceUpdate(gateway, PresenceStatus.Online, Backstop, null));

        await fixture.Grains.GetGrain<Orleans.Runtime.IManagementGrain>(0).DeactivateGrain(shard.GetGrainId());
        await fixture.Advance(Lease / 3);
        Assert.True(await shard.RenewHoldAlive(gateway, Lease)); // restored from the snapshot: still known
        Assert.True(await Listed(tenant, "moved"));

        await fixture.Advance(Lease + TimeSpan.FromSeconds(1));
        await Poll.Until(async () => !await Listed(tenant, "moved"), "the restored hold was released when its lease ended");
    }

    [Fact]
    public async Task A_released_hold_does_not_count_as_activity()
    {
        var tenant = Keys.Tenant();
        var gateway = NewGateway();
        var user = User(tenant, "quiet");
        await user.Update(new PresenceUpdate(gateway, PresenceStatus.Online, Backstop, null));
        var seen = (await user.Get()).LastSeenAt;

        await fixture.Advance(TimeSpan.FromMinutes(2));
        await user.ReleaseHold(gateway, fixture.Time.GetUtcNow());
        await Poll.Until(async () => (await user.Get()).Status == PresenceStatus.Offline, "the hold was released");
        Assert.Equal(seen, (await user.Get()).LastSeenAt);
    }
}
