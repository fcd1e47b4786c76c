using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Presence.Client;
using Presence.Grains.Hosting;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// <see cref="IPresenceGrains"/>, next to the grains whose placement it knows: users map to index shards by
/// <see cref="PresenceKeys.ShardOf"/> over <see cref="PresenceIndexOptions.Shards"/>. One grain reference per user
/// and per shard is kept across calls (Orleans resolves the grain interface on every GetGrain, a cost on every read),
/// bounded: when full it starts over, like the token cache.
/// </summary>
/// <param name="local">The shards active in this process, when it runs a silo: reads of them need no grain call.</param>
public sealed class PresenceGrains(IGrainFactory grains, IOptions<PresenceIndexOptions> index, LocalIndexShards? local = null) : IPresenceGrains
{
    public const int Capacity = 100_000;

    private readonly int _shards = index.Value.Shards;

    // Per tenant, then per user: two lookups with plain string keys hash faster than one with a tuple of them.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, IUserPresenceGrain>> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IPresenceIndexGrain?[]> _tenantShards = new(StringComparer.Ordinal);
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
        var shard = PresenceKeys.ShardOf(userId, _shards);
        if (local is not null && local.TryFind(tenant, shard, userId, out var view))
        {
            return view ?? await User(tenant, userId).Get(own, cancellationToken);
        }
        return await Shard(tenant, shard).Find(userId) ?? await User(tenant, userId).Get(own, cancellationToken);
    }

    public IndexShard ShardOf(string tenant, string userId) => new(tenant, PresenceKeys.ShardOf(userId, _shards));

    public IPresenceIndexGrain Shard(IndexShard shard) => Shard(shard.Tenant, shard.Number);

    private IPresenceIndexGrain Shard(string tenant, int shard)
    {
        if (!_tenantShards.TryGetValue(tenant, out var known))
        {
            if (_tenantShards.Count >= Capacity / 100)
            {
                _tenantShards.Clear(); // tenants come from tokens: bounded like the users
            }
            known = _tenantShards.GetOrAdd(tenant, _ => new IPresenceIndexGrain?[_shards]);
        }
        return known[shard] ??= grains.GetGrain<IPresenceIndexGrain>(PresenceKeys.ShardKey(tenant, shard));
    }
}
