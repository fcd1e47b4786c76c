namespace Presence.Grains.Collections;

/// <summary>
/// A set of ids in ordinal order, kept in blocks of bounded size: adding, removing and finding where a page starts
/// cost a binary search over the blocks and a move within one block, and a page costs its own length, whatever the
/// size of the set. (A <see cref="SortedSet{T}"/> view counts its whole range when it is made, so every page after an
/// id cost the size of the set; and a node per id costs several times the memory of a slot in a block.)
/// </summary>
internal sealed class SortedKeys
{
    // Blocks are split when they reach twice this size and dropped when empty.
    private const int BlockSize = 512;

    private readonly List<List<string>> _blocks = [];

    public int Count { get; private set; }

    public bool Add(string key)
    {
        if (_blocks.Count == 0)
        {
            _blocks.Add([key]);
            Count = 1;
            return true;
        }
        var b = BlockFor(key);
        var block = _blocks[b];
        var at = block.BinarySearch(key, StringComparer.Ordinal);
        if (at >= 0)
        {
            return false;
        }
        block.Insert(~at, key);
        Count++;
        if (block.Count >= 2 * BlockSize)
        {
            var upper = block.GetRange(BlockSize, block.Count - BlockSize);
            block.RemoveRange(BlockSize, block.Count - BlockSize);
            _blocks.Insert(b + 1, upper);
        }
        return true;
    }

    public bool Remove(string key)
    {
        if (_blocks.Count == 0)
        {
            return false;
        }
        var b = BlockFor(key);
        var block = _blocks[b];
        var at = block.BinarySearch(key, StringComparer.Ordinal);
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
        return _blocks[BlockFor(key)].BinarySearch(key, StringComparer.Ordinal) >= 0;
    }

    /// <summary>The ids strictly after <paramref name="after"/> (null: from the first), in order.</summary>
    public IEnumerable<string> After(string? after)
    {
        if (_blocks.Count == 0)
        {
            yield break;
        }
        var b = 0;
        var i = 0;
        if (after is not null)
        {
            b = BlockFor(after);
            var at = _blocks[b].BinarySearch(after, StringComparer.Ordinal);
            i = at >= 0 ? at + 1 : ~at;
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
    private int BlockFor(string key)
    {
        int low = 0, high = _blocks.Count - 1;
        while (low < high)
        {
            var middle = (low + high) / 2;
            var last = _blocks[middle][^1];
            if (string.CompareOrdinal(last, key) < 0)
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
}
