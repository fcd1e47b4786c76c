using System.Collections.Concurrent;
using Presence.Client;
using Presence.Events;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// <see cref="IPresenceGrains"/>, next to the grains whose placement it knows: users map to logical shards by
/// <see cref="PresenceKeys.ShardOf"/> over <see cref="PresenceIndexOptions.Shards"/>, and logical shards to the index
/// nodes holding them by what <see cref="IndexLayout"/> learned. One grain reference per user and per node is kept
/// across calls (Orleans resolves the grain interface on every GetGrain, a cost on every read), bounded: when full it
/// starts over, like the token cache.
/// </summary>
/// <param name="local">The nodes active in this process, when it runs a silo: reads of them need no grain call.</param>
public sealed class PresenceGrains(IGrainFactory grains, IndexLayout layout, IndexNodes nodes, LocalIndexShards? local = null) : IPresenceGrains
{
    public const int Capacity = 100_000;

    // One map for every tenant (a map per tenant would cost each small tenant a map), keyed by both strings.
    private readonly ConcurrentDictionary<(string Tenant, string UserId), IUserPresenceGrain> _users = new(OrdinalPair.Instance);
    private int _count;
    // Lists and changes walk the tenant's nodes from this process: no grain per tenant.
    private readonly IndexDirectory _directory = new(layout, nodes);

    public IUserPresenceGrain User(string tenant, string userId)
    {
        if (_users.TryGetValue((tenant, userId), out var user))
        {
            return user;
        }
        if (Volatile.Read(ref _count) >= Capacity)
        {
            _users.Clear();
            Volatile.Write(ref _count, 0);
        }
        user = grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, userId));
        if (_users.TryAdd((tenant, userId), user))
        {
            Interlocked.Increment(ref _count);
        }
        return user;
    }

    public async ValueTask<UserPresence> Get(string tenant, string userId, bool own, CancellationToken cancellationToken)
    {
        var shard = PresenceKeys.ShardOf(userId, layout.Shards);
        if (local is not null && local.TryFind(tenant, shard, userId, out var view))
        {
            return view ?? await User(tenant, userId).Get(own, cancellationToken);
        }
        var found = await nodes.Find(layout.LeafOf(tenant, shard), userId);
        layout.Learn(tenant, found.Cuts);
        return found.View ?? await User(tenant, userId).Get(own, cancellationToken);
    }

    public Task<OnlinePage> ListOnline(string tenant, DirectoryCursor? after, int count, CancellationToken cancellationToken)
        => _directory.ListOnline(tenant, after, count, cancellationToken);

    public Task<PresenceChange[]> ChangesSince(string tenant, DateTimeOffset since, CancellationToken cancellationToken)
        => _directory.ChangesSince(tenant, since, cancellationToken);

    public Task<PresenceDetail[]> GetDetails(string tenant, string[] userIds, CancellationToken cancellationToken)
        => Task.WhenAll(userIds.Select(id => User(tenant, id).GetDetail(false, cancellationToken)));

    public IndexShard ShardOf(string tenant, string userId) => layout.LeafOf(tenant, PresenceKeys.ShardOf(userId, layout.Shards));

    public async Task WatchAsync(IndexShard shard, GatewayWatch gateway, string[] add, string[] remove, bool replace)
        => layout.Learn(shard.Tenant, await nodes.Watch(shard, gateway, add, remove, replace));

    public async Task<bool> RenewHoldAsync(IndexShard shard, string source, TimeSpan lease)
    {
        var renewal = await nodes.RenewHold(shard, source, lease);
        layout.Learn(shard.Tenant, renewal.Cuts);
        return renewal.Alive;
    }
}

/// <summary>Two strings compared ordinally, hashed as the framework hashes each (no tuple of default comparers).</summary>
internal sealed class OrdinalPair : IEqualityComparer<(string A, string B)>
{
    public static readonly OrdinalPair Instance = new();

    public bool Equals((string A, string B) x, (string A, string B) y) => string.Equals(x.A, y.A, StringComparison.Ordinal) && string.Equals(x.B, y.B, StringComparison.Ordinal);

    public int GetHashCode((string A, string B) pair) => HashCode.Combine(pair.A.GetHashCode(StringComparison.Ordinal), pair.B.GetHashCode(StringComparison.Ordinal));
}
