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
public sealed class PresenceGrains(IGrainFactory grains, IndexLayout layout, LocalIndexShards? local = null) : IPresenceGrains
{
    public const int Capacity = 100_000;

    // Per tenant, then per user: two lookups with plain string keys hash faster than one with a tuple of them.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, IUserPresenceGrain>> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IndexShard, IPresenceIndexGrain> _nodes = new();
    private int _count;

    public IUserPresenceGrain User(string tenant, string userId)
    {
        if (_users.TryGetValue(tenant, out var users) && users.TryGetValue(userId, out var user))
        {
            return user;
        }
        if (Volatile.Read(ref _count) >= Capacity)
        {
            _users.Clear();
            Volatile.Write(ref _count, 0);
        }
        user = grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, userId));
        if (_users.GetOrAdd(tenant, _ => new(StringComparer.Ordinal)).TryAdd(userId, user))
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
        var found = await Node(layout.LeafOf(tenant, shard)).Find(userId);
        layout.Learn(tenant, found.Cuts);
        return found.View ?? await User(tenant, userId).Get(own, cancellationToken);
    }

    public IndexShard ShardOf(string tenant, string userId) => layout.LeafOf(tenant, PresenceKeys.ShardOf(userId, layout.Shards));

    public async Task WatchAsync(IndexShard shard, GatewayWatch gateway, string[] add, string[] remove, bool replace)
        => layout.Learn(shard.Tenant, await Node(shard).Watch(gateway, add, remove, replace));

    public async Task<bool> RenewHoldAsync(IndexShard shard, string source, TimeSpan lease)
    {
        var renewal = await Node(shard).RenewHold(source, lease);
        layout.Learn(shard.Tenant, renewal.Cuts);
        return renewal.Alive;
    }

    /// <summary>The grain of an index node (a reference reused across calls).</summary>
    public IPresenceIndexGrain Node(IndexShard shard)
    {
        if (_nodes.TryGetValue(shard, out var node))
        {
            return node;
        }
        if (_nodes.Count >= Capacity)
        {
            _nodes.Clear(); // tenants come from tokens: bounded like the users
        }
        return _nodes.GetOrAdd(shard, static (s, g) => g.GetGrain<IPresenceIndexGrain>(s.ToString()), grains);
    }
}
