using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Presence.Channels;
using Presence.Grains.Channels;
using Presence.Grains.Hosting;
using Presence.Grains.Index;
using Presence.Grains.Storage;
using Presence.Grains.Subscriptions;
using Presence.Index;
using Presence.Subscriptions;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>
/// Channels, shards and subscriptions stored as one blob by the previous version (written here through the grain
/// storage exactly as it wrote them) are carried over, item by item, by the first activation that finds no collection.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StoredFormatCarryOverTests(ClusterFixture fixture)
{
    private static readonly UserProfile Ann = new("ann", "Ann", null);

    private IGrainStorage Storage => fixture.Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>(PresenceStorage.Name);

    [Fact]
    public async Task A_channel_stored_whole_is_carried_over_member_by_member_and_its_blob_cleared()
    {
        var key = PresenceKeys.Of(Keys.Tenant(), "legacy");
        var now = fixture.Time.GetUtcNow();
        var id = GrainId.Create("presence-channel", key);
        await Storage.WriteStateAsync("channel", id, new GrainState<ChannelPresenceState>(new ChannelPresenceState
        {
            Members =
            {
                ["ann"] = new ChannelMemberState { Profile = Ann, Status = "here", ExpiresAt = now.AddHours(1), LastSeenAt = now, SubscribedAt = now },
                ["bob"] = new ChannelMemberState { Profile = Ann with { Username = "bob" }, SubscribedAt = now },
            },
            ReminderDue = now.AddHours(1),
        }));

        var channel = fixture.Grains.GetGrain<IChannelPresenceGrain>(key);
        Assert.Equal(["ann", "bob"], (await channel.ListSubscribers(null, 10)).Members.Select(m => m.UserId));
        Assert.Equal("here", (await channel.GetMember("ann")).Status);
        Assert.Equal(2, (await channel.GetInfo("ann")).Subscribers);

        var (rows, head) = await fixture.ReadCollection<ChannelMemberState, ChannelHead>(CollectionKind.Channel, key);
        Assert.Equal(["ann", "bob"], rows.Keys.Order());
        Assert.Equal(now.AddHours(1), head!.ReminderDue);
        Assert.Empty((await fixture.ReadStored<ChannelPresenceState>("channel", id)).Members);

        // Later activations read the rows, not the (gone) blob.
        await fixture.Cluster.DeactivateAsync(channel);
        await channel.Unsubscribe("bob");
        Assert.Equal(["ann"], (await fixture.ReadCollection<ChannelMemberState, ChannelHead>(CollectionKind.Channel, key)).Items.Keys);
    }

    [Fact]
    public async Task Subscriptions_stored_whole_are_carried_over_one_row_each()
    {
        var key = PresenceKeys.Of(Keys.Tenant(), "follower");
        var now = fixture.Time.GetUtcNow();
        var id = GrainId.Create("presence-subscriptions", key);
        await Storage.WriteStateAsync("subscriptions", id, new GrainState<SubscriptionsState>(new SubscriptionsState
        {
            Targets = { ["ann"] = now.AddDays(1), ["bob"] = now.AddDays(2) },
        }));

        var page = await fixture.Grains.GetGrain<IPresenceSubscriptionsGrain>(key).List(0, 10);
        Assert.Equal(["ann", "bob"], page.Items.Select(s => s.UserId));
        var (rows, _) = await fixture.ReadCollection<DateTimeOffset, SubscriptionsHead>(CollectionKind.Subscriptions, key);
        Assert.Equal(now.AddDays(2), rows["bob"]);
        Assert.Empty((await fixture.ReadStored<SubscriptionsState>("subscriptions", id)).Targets);
    }

    [Fact]
    public async Task A_shard_snapshot_is_carried_over_with_its_users_log_and_holds()
    {
        var tenant = Keys.Tenant();
        var key = PresenceKeys.ShardKey(tenant, PresenceKeys.ShardOf("ann", ClusterFixture.Shards)); // the fixed layout's shard
        var now = fixture.Time.GetUtcNow();
        var id = GrainId.Create("presence-index", key);
        var hold = PresenceSources.StreamPrefix + "gateway";
        await Storage.WriteStateAsync("index", id, new GrainState<IndexShardSnapshot>(new IndexShardSnapshot
        {
            Entries = [new IndexUpdate("ann", 7, Ann, now, "busy", [new StatusStep(now.AddMinutes(10), null)], "at lunch", [hold])],
            Log = [new PresenceChange(now, "ann", Ann, "busy", now, "at lunch")],
            Holds = { [hold] = new HoldLeaseSnapshot { RenewedAt = now, Until = now.AddMinutes(1) } },
        }));

        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(key);
        var listed = Assert.Single((await shard.List(null, 10)).Users);
        Assert.Equal(("ann", "busy", "at lunch"), (listed.UserId, listed.Status, listed.StatusText));
        Assert.Equal("busy", Assert.Single(await shard.ChangesSince(now)).Status);
        Assert.True(await shard.RenewHoldAlive(hold, TimeSpan.FromMinutes(1)), "the gateway's hold came over alive");

        var rows = (await fixture.Collections.LoadAsync(CollectionKind.IndexShard, key, default)).Items.Select(i => i.Key).ToList();
        Assert.Contains("e:ann", rows);
        Assert.Contains("h:" + hold, rows);
        Assert.Single(rows, k => k.StartsWith("l:", StringComparison.Ordinal));
        Assert.Empty((await fixture.ReadStored<IndexShardSnapshot>("index", id)).Entries);

        // The tenant's root, new, finds the fixed layout's shards stored and passes calls on to them.
        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);
        Assert.Equal(["ann"], (await directory.ListOnline(null, 10)).Users.Select(u => u.UserId));
        Assert.Equal("busy", (await fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant)).FindView("ann"))?.Status);
    }
}
