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
    // Per tenant, the node holding each logical shard; one slot for all of them while a single node does (most tenants).
    private readonly ConcurrentDictionary<string, IndexNode?[]> _tenants = new(StringComparer.Ordinal);

    /// <summary>
    /// True when a node active here answered: with the user as others see it (online and visible), or with null when it
    /// does not list the user (the user's grain knows). False when no node here can say: call it.
    /// </summary>
    public bool TryFind(string tenant, int shard, string userId, out UserPresence? view)
    {
        view = null;
        return _tenants.TryGetValue(tenant, out var shards)
            && (uint)shard < (uint)options.Value.Shards
            && Volatile.Read(ref shards[shards.Length == 1 ? 0 : shard]) is { } active
            && active.TryRead(userId, out view);
    }

    /// <summary>The node active here that holds <paramref name="shard"/> of <paramref name="tenant"/>, if any.</summary>
    internal IndexNode? NodeOf(string tenant, int shard)
        => _tenants.TryGetValue(tenant, out var shards) && (uint)shard < (uint)options.Value.Shards
            ? Volatile.Read(ref shards[shards.Length == 1 ? 0 : shard])
            : null;

    internal void Add(string tenant, int lo, int hi, IndexNode active)
    {
        var count = options.Value.Shards;
        lock (_tenants)
        {
            if (lo == 0 && hi == count && !_tenants.ContainsKey(tenant))
            {
                _tenants[tenant] = [active];
                return;
            }
            var shards = _tenants.GetValueOrDefault(tenant);
            if (shards is null || shards.Length != count)
            {
                // From one slot to one per logical shard: a copy, so readers see either whole.
                var all = new IndexNode?[count];
                if (shards is [var whole])
                {
                    Array.Fill(all, whole);
                }
                _tenants[tenant] = shards = all;
            }
            for (var shard = Math.Max(lo, 0); shard < hi && shard < count; shard++)
            {
                Volatile.Write(ref shards[shard], active);
            }
        }
    }

    internal void Remove(string tenant, int lo, int hi, IndexNode active)
    {
        lock (_tenants)
        {
            if (!_tenants.TryGetValue(tenant, out var shards))
            {
                return;
            }
            var empty = true;
            for (var slot = 0; slot < shards.Length; slot++)
            {
                if (shards.Length == 1 || (slot >= lo && slot < hi))
                {
                    Interlocked.CompareExchange(ref shards[slot], null, active);
                }
                empty &= shards[slot] is null;
            }
            if (empty)
            {
                _tenants.TryRemove(tenant, out _); // a tenant with no node active here costs nothing here
            }
        }
    }
}
