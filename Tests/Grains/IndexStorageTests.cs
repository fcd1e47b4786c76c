using Presence.Grains.Storage;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>
/// An index shard stores its users, change log and holds row by row as they change, and a shard that comes up
/// where another activation left only rows (it crashed, writing nothing at the end) serves them all.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class IndexStorageTests(ClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("ann", "Ann", null);

    private async Task<List<string>> Rows(string shardKey)
        => [.. (await fixture.Collections.LoadAsync(CollectionKind.IndexShard, shardKey, default)).Items.Select(i => i.Key).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task A_user_coming_online_is_one_row_and_its_change_another_and_going_offline_deletes_the_row()
    {
        var tenant = Keys.Tenant();
        var shard = ClusterFixture.RootKey(tenant);
        var ann = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ann"));

        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(5), Profile));
        Assert.Equal(["e:ann", "l:1"], await Rows(shard)); // written before the update was acknowledged

        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(5), Profile));
        Assert.Equal(["e:ann", "l:1"], await Rows(shard)); // a refresh within the coalescing window writes nothing new

        await ann.Update(new PresenceUpdate(PresenceSources.Api, null, null, null));
        Assert.Equal(["l:1", "l:2"], await Rows(shard));
    }

    [Fact]
    public async Task Refreshes_cost_no_write_of_their_own_and_are_written_together_within_the_coalescing_window()
    {
        var tenant = Keys.Tenant();
        var shard = ClusterFixture.RootKey(tenant);
        var ann = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ann"));
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));
        var first = await StoredEnd(shard);

        await fixture.Advance(TimeSpan.FromSeconds(20));
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));
        Assert.Equal(first, await StoredEnd(shard)); // acknowledged without a write of the shard

        await fixture.Advance(TimeSpan.FromMinutes(1));
        await Poll.Until(async () => await StoredEnd(shard) == first.AddSeconds(20), "the shard wrote the refresh with its periodic write");
    }

    private async Task<DateTimeOffset> StoredEnd(string shardKey)
        => (await fixture.ReadRow<IndexUpdate>(CollectionKind.IndexShard, shardKey, "e:ann")).Steps[^1].At;

    [Fact]
    public async Task Expiry_by_the_shards_timer_deletes_the_row_and_logs_the_change()
    {
        var tenant = Keys.Tenant();
        var shard = ClusterFixture.RootKey(tenant);
        await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ann"))
            .Update(new PresenceUpdate(PresenceSources.Api, "here", TimeSpan.FromMinutes(1), Profile));

        await fixture.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await Poll.Until(async () => (await Rows(shard)).SequenceEqual(["l:1", "l:2"]), "the timer deleted ann's row");
    }

    [Fact]
    public async Task A_shard_whose_activation_left_only_its_rows_comes_back_with_users_log_and_holds()
    {
        // What a shard that crashed leaves behind: rows written as things changed, nothing written at the end.
        var tenant = Keys.Tenant();
        var shardKey = ClusterFixture.RootKey(tenant);
        var now = fixture.Time.GetUtcNow();
        var hold = PresenceSources.StreamPrefix + "gateway";
        var serializer = fixture.Cluster.GetSiloServiceProvider().GetService(typeof(Orleans.Serialization.Serializer)) as Orleans.Serialization.Serializer;
        var online = new PresenceChange(now.AddMinutes(-1), "ann", Profile, "busy", now.AddMinutes(-1));
        var gone = new PresenceChange(now, "bob", Profile, PresenceStatus.Offline, now);
        await fixture.Collections.WriteAsync(CollectionKind.IndexShard, shardKey, new CollectionWrite(0, null,
        [
            new("e:ann", serializer!.SerializeToArray(new IndexUpdate("ann", 5, Profile, now, "busy", [new StatusStep(now.AddMinutes(10), null)], null, [hold]))),
            new("l:1", serializer.SerializeToArray(new Presence.Grains.Index.LoggedChange(1, online, 0))),
            new("l:2", serializer.SerializeToArray(new Presence.Grains.Index.LoggedChange(2, gone, 9))),
            new("h:" + hold, serializer.SerializeToArray(new Presence.Grains.Index.HoldLeaseSnapshot { RenewedAt = now, Until = now.AddMinutes(1) })),
        ]), default);

        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(shardKey);
        Assert.Equal(["ann"], (await shard.List(null, 10)).Users.Select(u => u.UserId));
        Assert.Equal(["ann", "bob"], (await shard.ChangesSince(now.AddMinutes(-5))).Select(c => c.UserId));
        Assert.True(await shard.RenewHoldAlive(hold, TimeSpan.FromMinutes(1)));

        // bob's tombstone came back with the log: an update older than his going offline cannot list him again.
        await shard.Apply([new IndexUpdate("bob", 8, Profile, now, "here", [new StatusStep(now.AddMinutes(10), null)])]);
        Assert.Equal(["ann"], (await shard.List(null, 10)).Users.Select(u => u.UserId));
    }
}
