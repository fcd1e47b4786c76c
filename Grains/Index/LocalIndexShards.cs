using System.Collections.Concurrent;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// The index nodes active in this silo, by the logical shards they hold, so that a gateway in the same process reads a user from its shard without a
/// grain call: in the default deployment (one process, a co-hosted silo) a read of an online user costs a dictionary
/// lookup instead of an Orleans message, a turn and a response. A shard registers once active and leaves as it starts
/// to go away; a read that overlaps its leaving is not answered here, and the caller calls the shard.
/// </summary>
public sealed class LocalIndexShards(Microsoft.Extensions.Options.IOptions<Hosting.PresenceIndexOptions> options)
{
    private readonly ConcurrentDictionary<string, PresenceIndexGrain?[]> _tenants = new(StringComparer.Ordinal);

    /// <summary>
    /// True when a shard active here answered: with the user as others see it (online and visible), or with null when it
    /// does not list the user (the user's grain knows). False when no shard here can say: call it.
    /// </summary>
    public bool TryFind(string tenant, int shard, string userId, out UserPresence? view)
    {
        view = null;
        return _tenants.TryGetValue(tenant, out var shards)
            && (uint)shard < (uint)shards.Length
            && Volatile.Read(ref shards[shard]) is { } active
            && active.TryRead(userId, out view);
    }

    internal void Add(string tenant, int lo, int hi, PresenceIndexGrain active)
    {
        var shards = _tenants.GetOrAdd(tenant, _ => new PresenceIndexGrain?[options.Value.Shards]);
        for (var shard = Math.Max(lo, 0); shard < hi && shard < shards.Length; shard++)
        {
            Volatile.Write(ref shards[shard], active);
        }
    }

    internal void Remove(string tenant, int lo, int hi, PresenceIndexGrain active)
    {
        if (!_tenants.TryGetValue(tenant, out var shards))
        {
            return;
        }
        var empty = true;
        for (var shard = 0; shard < shards.Length; shard++)
        {
            if (shard >= lo && shard < hi)
            {
                Interlocked.CompareExchange(ref shards[shard], null, active);
            }
            empty &= Volatile.Read(ref shards[shard]) is null;
        }
        if (empty)
        {
            // A tenant with no node active here costs nothing here (a node registering meanwhile adds it again).
            ((ICollection<KeyValuePair<string, PresenceIndexGrain?[]>>)_tenants).Remove(new(tenant, shards));
            if (shards.Any(s => Volatile.Read(ref s) is not null))
            {
                _tenants.TryAdd(tenant, shards);
            }
        }
    }
}
