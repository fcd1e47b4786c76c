using Microsoft.Extensions.Options;
using Presence.Client;
using Presence.Events;
using Presence.Grains.Hosting;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// Calls an index node wherever it is hosted: a tenant's root in its pool (<see cref="IndexPoolGrain"/>, unless
/// <c>Presence:Index:Pools</c> is 0), any other node in a grain of its own (<see cref="PresenceIndexGrain"/>).
/// </summary>
public sealed class IndexNodes(IGrainFactory grains, IOptions<PresenceIndexOptions> options)
{
    private const int Capacity = 100_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<IndexShard, IPresenceIndexGrain> _grains = new();
    // References made on first use: a client knows grain types only once connected to the cluster.
    private readonly IIndexPoolGrain?[] _pools = new IIndexPoolGrain?[options.Value.Pools];

    /// <summary>Whether a tenant's root is hosted by a pool (else by a grain of its own, as every other node is).</summary>
    public bool Pooled(IndexShard node) => _pools.Length > 0 && node.Lo == 0 && node.Hi == options.Value.Shards;

    /// <summary>The pool hosting a tenant's root.</summary>
    public IIndexPoolGrain PoolOf(string tenant)
    {
        var pool = PresenceKeys.PoolOf(tenant, _pools.Length);
        return _pools[pool] ??= grains.GetGrain<IIndexPoolGrain>(PresenceKeys.PoolKey(pool));
    }

    /// <summary>The grain of a node that has one of its own (a reference reused across calls: Orleans resolves the interface on every GetGrain).</summary>
    public IPresenceIndexGrain Grain(IndexShard node)
    {
        if (_grains.TryGetValue(node, out var grain))
        {
            return grain;
        }
        if (_grains.Count >= Capacity)
        {
            _grains.Clear(); // bounded, like the other caches of references
        }
        return _grains.GetOrAdd(node, static (n, g) => g.GetGrain<IPresenceIndexGrain>(n.ToString()), grains);
    }

    public Task<int[]?> Apply(IndexShard node, IndexUpdate[] updates)
        => Pooled(node) ? PoolOf(node.Tenant).Apply(node.Tenant, updates) : Grain(node).Apply(updates);

    public Task<IndexSlice> List(IndexShard node, int shard, string? afterUserId, int count, CancellationToken cancellationToken)
        => Pooled(node) ? PoolOf(node.Tenant).List(node.Tenant, shard, afterUserId, count, cancellationToken) : Grain(node).List(shard, afterUserId, count, cancellationToken);

    public Task<IndexFound> Find(IndexShard node, string userId)
        => Pooled(node) ? PoolOf(node.Tenant).Find(node.Tenant, userId) : Grain(node).Find(userId);

    public Task<int[]?> Watch(IndexShard node, GatewayWatch gateway, string[] add, string[] remove, bool replace)
        => Pooled(node) ? PoolOf(node.Tenant).Watch(node.Tenant, gateway, add, remove, replace) : Grain(node).Watch(gateway, add, remove, replace);

    public Task<HoldRenewal> RenewHold(IndexShard node, string source, TimeSpan lease)
        => Pooled(node) ? PoolOf(node.Tenant).RenewHold(node.Tenant, source, lease) : Grain(node).RenewHold(source, lease);

    public Task<PresenceChange[]> ChangesSince(IndexShard node, DateTimeOffset since, CancellationToken cancellationToken)
        => Pooled(node) ? PoolOf(node.Tenant).ChangesSince(node.Tenant, since, cancellationToken) : Grain(node).ChangesSince(since, cancellationToken);
}
