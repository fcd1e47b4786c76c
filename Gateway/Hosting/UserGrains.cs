using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Presence.Grains.Hosting;
using Presence.Grains.Index;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Hosting;

/// <summary>
/// One grain reference per user, and per index shard, reused across requests. Orleans resolves the grain interface on
/// every GetGrain, a cost that stood out in profiles of the read path (reads went from about 0.51 to 0.60 of bare
/// Kestrel with this). Bounded: when full it starts over, like the token cache.
/// </summary>
public sealed class UserGrains(IGrainFactory grains, IOptions<PresenceIndexOptions> index, LocalIndexShards? local = null)
{
    public const int Capacity = 100_000;

    // Per tenant, then per user: two lookups with plain string keys hash faster than one with a tuple of them.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, IUserPresenceGrain>> _tenants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IPresenceIndexGrain?[]> _shards = new(StringComparer.Ordinal);
    private int _count;

    public IUserPresenceGrain For(string tenant, string userId)
    {
        if (_tenants.TryGetValue(tenant, out var users) && users.TryGetValue(userId, out var user))
        {
            return user;
        }
        if (Volatile.Read(ref _count) >= Capacity)
        {
            _tenants.Clear();
            Volatile.Write(ref _count, 0);
        }
        user = grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, userId));
        if (_tenants.GetOrAdd(tenant, _ => new(StringComparer.Ordinal)).TryAdd(userId, user))
        {
            Interlocked.Increment(ref _count);
        }
        return user;
    }

    /// <summary>
    /// A user's presence (<paramref name="own"/>: as the user itself sees it). An online, visible user is answered by
    /// its index shard, which holds what such a read returns and looks the same to the user and to others: without a
    /// grain call when the shard is active in this process (<see cref="LocalIndexShards"/>), else with one. Only the
    /// rest (offline, invisible) asks the user's grain, so reading online users activates no user grain.
    /// </summary>
    public async ValueTask<UserPresence> Get(string tenant, string userId, bool own, CancellationToken cancellationToken)
    {
        var shard = PresenceKeys.ShardOf(userId, index.Value.Shards);
        if (local is not null && local.TryFind(tenant, shard, userId, out var view))
        {
            return view ?? await For(tenant, userId).Get(own, cancellationToken);
        }
        return await Shard(tenant, shard).Find(userId) ?? await For(tenant, userId).Get(own, cancellationToken);
    }

    private IPresenceIndexGrain Shard(string tenant, int shard)
    {
        if (!_shards.TryGetValue(tenant, out var known))
        {
            if (_shards.Count >= Capacity / 100)
            {
                _shards.Clear(); // tenants come from tokens: bounded like the users
            }
            known = _shards.GetOrAdd(tenant, _ => new IPresenceIndexGrain?[index.Value.Shards]);
        }
        return known[shard] ??= grains.GetGrain<IPresenceIndexGrain>(PresenceKeys.ShardKey(tenant, shard));
    }
}
