using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Presence.Client;
using Presence.Grains.Hosting;

namespace Presence.Grains.Index;

/// <summary>
/// Where this process believes each tenant's index nodes are: the cuts between a tenant's logical shards at which its
/// nodes split, learned from the nodes' answers. Nodes only ever split (a tenant that shrinks leaves its empty nodes
/// idle), so a cut once learned stays true, and what a process knows is never finer than what is: at worst a caller
/// reaches a node that split, which passes the call on and answers its cuts. A tenant that never split (most of them)
/// costs nothing here. Bounded like the grain references: when full it starts over, and learns again.
/// </summary>
public sealed class IndexLayout(IOptions<PresenceIndexOptions> options)
{
    public const int Capacity = 100_000;

    private readonly ConcurrentDictionary<string, int[]> _cuts = new(StringComparer.Ordinal);

    /// <summary>Logical shards per tenant.</summary>
    public int Shards => options.Value.Shards;

    /// <summary>A tenant's root: the node that holds all its logical shards until it splits.</summary>
    public IndexShard Root(string tenant) => new(tenant, 0, Shards);

    /// <summary>The node believed to hold logical shard <paramref name="shard"/>.</summary>
    public IndexShard LeafOf(string tenant, int shard)
    {
        if (!_cuts.TryGetValue(tenant, out var cuts))
        {
            return Root(tenant);
        }
        var at = Array.BinarySearch(cuts, shard);
        var next = at >= 0 ? at + 1 : ~at; // cuts at or below the shard end the ranges before it
        return new IndexShard(tenant, next == 0 ? 0 : cuts[next - 1], next == cuts.Length ? Shards : cuts[next]);
    }

    /// <summary>Every node believed to hold users of the tenant, in order of their logical shards.</summary>
    public IndexShard[] Leaves(string tenant)
    {
        if (!_cuts.TryGetValue(tenant, out var cuts))
        {
            return [Root(tenant)];
        }
        var leaves = new IndexShard[cuts.Length + 1];
        for (var i = 0; i <= cuts.Length; i++)
        {
            leaves[i] = new IndexShard(tenant, i == 0 ? 0 : cuts[i - 1], i == cuts.Length ? Shards : cuts[i]);
        }
        return leaves;
    }

    /// <summary>Takes in the cuts a node answered (null: it had not split).</summary>
    public void Learn(string tenant, int[]? cuts)
    {
        if (cuts is not { Length: > 0 })
        {
            return;
        }
        if (_cuts.Count >= Capacity && !_cuts.ContainsKey(tenant))
        {
            _cuts.Clear();
        }
        var shards = Shards;
        _cuts.AddOrUpdate(tenant,
            static (_, learned) => Union([], learned.Cuts, learned.Shards),
            static (_, known, learned) => Union(known, learned.Cuts, learned.Shards),
            (Cuts: cuts, Shards: shards));
    }

    private static int[] Union(int[] known, int[] learned, int shards)
    {
        if (learned.All(c => Array.BinarySearch(known, c) >= 0))
        {
            return known;
        }
        return [.. known.Concat(learned.Where(c => c > 0 && c < shards)).Distinct().Order()];
    }
}
