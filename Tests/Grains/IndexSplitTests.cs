using Microsoft.Extensions.DependencyInjection;
using Presence.Grains.Index;
using Presence.Grains.Storage;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>
/// A tenant's index starts as one node and splits in halves as it grows (<see cref="ClusterFixture.SplitAt"/> users per
/// node here): listing, the change log, reads, holds and watches work across a split, and a split a crash interrupted
/// is completed when the node comes back.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class IndexSplitTests(ClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("name", "Name", null);

    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    private IPresenceIndexGrain Node(string key) => fixture.Grains.GetGrain<IPresenceIndexGrain>(key);

    private static string[] Ids(string prefix, int count) => [.. Enumerable.Range(0, count).Select(i => $"{prefix}{i:D2}")];

    private async Task Online(string tenant, IEnumerable<string> ids, string status = "here")
    {
        foreach (var id in ids)
        {
            await User(tenant, id).Update(new PresenceUpdate(PresenceSources.Api, status, TimeSpan.FromMinutes(5), Profile));
        }
    }

    /// <summary>The whole list, page by page.</summary>
    private async Task<List<string>> ListAll(string tenant, int pageSize)
        => [.. (await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListAll(pageSize)).Select(u => u.UserId)];

    /// <summary>The order a listing walks: logical shard, then id.</summary>
    private static IEnumerable<string> InListingOrder(IEnumerable<string> ids)
        => ids.OrderBy(id => PresenceKeys.ShardOf(id, ClusterFixture.Shards)).ThenBy(id => id, StringComparer.Ordinal);

    [Fact]
    public async Task A_small_tenant_lives_in_its_root_and_a_growing_one_splits_with_nothing_lost()
    {
        var tenant = Keys.Tenant();
        var few = Ids("f", ClusterFixture.SplitAt);
        await Online(tenant, few);
        var root = Node(ClusterFixture.RootKey(tenant));
        Assert.Null((await root.List(0, null, 100)).Cuts);
        Assert.Equal(few.Length, (await root.List(0, null, 100)).Users.Length);

        var many = Ids("m", 40);
        await Online(tenant, many);
        var all = few.Concat(many).ToArray();
        var rootSlice = await root.List(0, null, 100);
        Assert.NotNull(rootSlice.Cuts); // it split, and holds nothing itself
        Assert.Empty(rootSlice.Users);

        Assert.Equal(InListingOrder(all), await ListAll(tenant, 7)); // every user once, in order, by pages
        Assert.Equal(InListingOrder(all), await ListAll(tenant, 100));
        var since = fixture.Time.GetUtcNow().AddMinutes(-1);
        var changes = await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ChangesSince(since);
        Assert.Equal(all.Order(StringComparer.Ordinal), changes.Select(c => c.UserId).Order(StringComparer.Ordinal));

        // The root passes calls on: a read of a user through it, and the halves answer their cuts.
        var found = await root.Find("f00");
        Assert.Equal("here", found.View?.Status);
        Assert.NotNull(found.Cuts);

        // Each user is stored once, by the node that holds it; the root keeps only where it split.
        var rows = new List<string>();
        foreach (var key in ClusterFixture.NodeKeys(tenant))
        {
            rows.AddRange((await fixture.Collections.LoadAsync(CollectionKind.IndexShard, key, default)).Items.Select(i => i.Key).Where(k => k.StartsWith("e:", StringComparison.Ordinal)));
        }
        Assert.Equal(all.Select(id => "e:" + id).Order(StringComparer.Ordinal), rows.Order(StringComparer.Ordinal));
        Assert.Empty((await fixture.Collections.LoadAsync(CollectionKind.IndexShard, ClusterFixture.RootKey(tenant), default)).Items);

        // Expiry still runs in the halves, on time.
        await fixture.Advance(TimeSpan.FromMinutes(5));
        await Poll.Until(async () => (await ListAll(tenant, 100)).Count == 0, "every user expired");
    }

    [Fact]
    public async Task Paging_across_a_split_neither_repeats_nor_skips_a_user_online_throughout()
    {
        var tenant = Keys.Tenant();
        var first = Ids("a", ClusterFixture.SplitAt);
        await Online(tenant, first);
        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);
        var page = await directory.ListOnline(null, 3);
        var listed = page.Users.Select(u => u.UserId).ToList();

        await Online(tenant, Ids("b", 30)); // the root splits between two pages
        var cursor = page.Next;
        while (cursor is not null)
        {
            page = await directory.ListOnline(cursor, 3);
            listed.AddRange(page.Users.Select(u => u.UserId));
            cursor = page.Next;
        }
        Assert.Equal(listed.Count, listed.Distinct().Count());
        Assert.All(first, id => Assert.Contains(id, listed));
    }

    [Fact]
    public async Task A_gateways_hold_goes_with_its_users_into_the_halves_and_still_lapses_there()
    {
        var tenant = Keys.Tenant();
        var root = Node(ClusterFixture.RootKey(tenant));
        var source = PresenceSources.StreamPrefix + "gateway-a";
        Assert.False(await root.RenewHoldAlive(source, TimeSpan.FromMinutes(1)));
        var held = Ids("h", 4);
        foreach (var id in held)
        {
            await User(tenant, id).Update(new PresenceUpdate(source, PresenceStatus.Online, TimeSpan.FromMinutes(15), Profile));
        }
        await Online(tenant, Ids("o", 20)); // the root splits

        Assert.NotNull((await root.List(0, null, 1)).Cuts);
        var renewal = await root.RenewHold(source, TimeSpan.FromMinutes(1)); // passed on to every half
        Assert.True(renewal.Alive, "every half knew the hold alive");
        Assert.NotNull(renewal.Cuts);

        // The gateway stops renewing (it died): each half releases the users it holds for it.
        await fixture.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        foreach (var id in held)
        {
            await Poll.Until(async () => (await User(tenant, id).Get()).Status == PresenceStatus.Offline, $"{id} released when the hold lapsed");
        }
        Assert.Equal(20, (await ListAll(tenant, 100)).Count);
    }

    [Fact]
    public async Task A_split_a_crash_interrupted_is_completed_when_the_node_comes_back()
    {
        // As the root left it: its cut written with its content, and killed before the halves took over.
        var tenant = Keys.Tenant();
        var now = fixture.Time.GetUtcNow();
        var ids = Ids("c", 12);
        var serializer = fixture.Cluster.Client.ServiceProvider.GetRequiredService<Orleans.Serialization.Serializer>();
        var rows = ids.Select(id => new KeyValuePair<string, byte[]?>("e:" + id,
            serializer.SerializeToArray(new IndexUpdate(id, 1, Profile, now, "here", [new StatusStep(now.AddMinutes(5), null)]))));
        await fixture.Collections.WriteAsync(CollectionKind.IndexShard, ClusterFixture.RootKey(tenant),
            new CollectionWrite(0, serializer.SerializeToArray(new IndexNodeHead([ClusterFixture.Shards / 2])), [.. rows]), default);

        Assert.Equal(InListingOrder(ids), await ListAll(tenant, 5));
        Assert.Empty((await fixture.Collections.LoadAsync(CollectionKind.IndexShard, ClusterFixture.RootKey(tenant), default)).Items);
        var halves = new[] { PresenceKeys.ShardKey(tenant, 0, ClusterFixture.Shards / 2), PresenceKeys.ShardKey(tenant, ClusterFixture.Shards / 2, ClusterFixture.Shards) };
        var stored = 0;
        foreach (var half in halves)
        {
            stored += (await fixture.Collections.LoadAsync(CollectionKind.IndexShard, half, default)).Items.Count(i => i.Key.StartsWith("e:", StringComparison.Ordinal));
        }
        Assert.Equal(ids.Length, stored);
    }

    [Fact]
    public async Task Nodes_of_a_split_tenant_come_back_whole_after_every_node_went_away()
    {
        var tenant = Keys.Tenant();
        var ids = Ids("r", 30);
        await Online(tenant, ids);
        await fixture.DeactivateIndex(tenant);
        Assert.Equal(InListingOrder(ids), await ListAll(tenant, 9));
        await Online(tenant, ["r00"], "busy"); // a user grain whose silo's layout may be stale still reaches the right node
        Assert.Equal("busy", (await Node(ClusterFixture.RootKey(tenant)).FindView("r00"))?.Status);
    }
}
