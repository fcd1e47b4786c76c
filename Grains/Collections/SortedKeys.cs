namespace Presence.Grains.Collections;

/// <summary>Something kept in id order: its id, within its group (an index entry's logical shard; else none).</summary>
internal interface IKeyed
{
    string Key { get; }

    int Group => 0;
}

/// <summary>
/// Items (channel members, index entries) in the order of their groups, then the ordinal order of their ids, kept in blocks of bounded size: adding,
/// removing and finding where a page starts cost a binary search over the blocks and a move within one block, and a
/// page costs its own length, whatever the size of the set; a page reads the items themselves, with no lookup by id.
/// (A <see cref="SortedSet{T}"/> view counts its whole range when it is made, so every page after an id would cost the size
/// of the set; and a node per id costs several times the memory of a slot in a block.)
/// </summary>
internal sealed class SortedKeys<T> where T : class, IKeyed
{
    // Blocks are split when they reach twice this size and dropped when empty.
    private const int BlockSize = 512;

    private readonly List<List<T>> _blocks = [];

    public int Count { get; private set; }

    public bool Add(T item)
    {
        if (_blocks.Count == 0)
        {
            _blocks.Add([item]);
            Count = 1;
            return true;
        }
        var b = BlockFor(item.Group, item.Key);
        var block = _blocks[b];
        var at = Find(block, item.Group, item.Key);
        if (at >= 0)
        {
            return false;
        }
        block.Insert(~at, item);
        Count++;
        if (block.Count >= 2 * BlockSize)
        {
            var upper = block.GetRange(BlockSize, block.Count - BlockSize);
            block.RemoveRange(BlockSize, block.Count - BlockSize);
            _blocks.Insert(b + 1, upper);
        }
        return true;
    }

    public bool Remove(string key) => Remove(0, key);

    public bool Remove(int group, string key)
    {
        if (_blocks.Count == 0)
        {
            return false;
        }
        var b = BlockFor(group, key);
        var block = _blocks[b];
        var at = Find(block, group, key);
        if (at < 0)
        {
            return false;
        }
        block.RemoveAt(at);
        Count--;
        if (block.Count == 0)
        {
            _blocks.RemoveAt(b);
        }
        return true;
    }

    public bool Contains(string key)
    {
        if (_blocks.Count == 0)
        {
            return false;
        }
        return Find(_blocks[BlockFor(0, key)], 0, key) >= 0;
    }

    /// <summary>The items whose ids come strictly after <paramref name="after"/> (null: from the first), in order.</summary>
    public IEnumerable<T> After(string? after) => After(0, after);

    /// <summary>
    /// The items from group <paramref name="group"/> on whose ids come strictly after <paramref name="after"/> within
    /// it (null: from the group's first), in order.
    /// </summary>
    public IEnumerable<T> After(int group, string? after)
    {
        if (_blocks.Count == 0)
        {
            yield break;
        }
        var b = 0;
        var i = 0;
        if (after is not null || group != 0)
        {
            b = BlockFor(group, after ?? "");
            var at = Find(_blocks[b], group, after ?? "");
            i = at >= 0 && after is not null ? at + 1 : at >= 0 ? at : ~at;
        }
        for (; b < _blocks.Count; b++, i = 0)
        {
            var block = _blocks[b];
            for (; i < block.Count; i++)
            {
                yield return block[i];
            }
        }
    }

    /// <summary>The block that holds <paramref name="key"/> or where it belongs: the first whose last id is not below it (else the last).</summary>
    private int BlockFor(int group, string key)
    {
        int low = 0, high = _blocks.Count - 1;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (Compare(_blocks[middle][^1], group, key) < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }
        return low;
    }

    /// <summary>The index of <paramref name="key"/> in a block, or the complement of where it belongs (as BinarySearch).</summary>
    private static int Find(List<T> block, int group, string key)
    {
        int low = 0, high = block.Count - 1;
        while (low <= high)
        {
            var middle = (low + high) / 2;
            var order = Compare(block[middle], group, key);
            if (order == 0)
            {
                return middle;
            }
            if (order < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }
        return ~low;
    }

    private static int Compare(T item, int group, string key)
    {
        var order = item.Group.CompareTo(group);
        return order != 0 ? order : string.CompareOrdinal(item.Key, key);
    }
}
