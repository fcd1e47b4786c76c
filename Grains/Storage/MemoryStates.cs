using System.Collections.Concurrent;
using System.Globalization;

namespace Presence.Grains.Storage;

/// <summary>
/// Grain states in this process's memory, serialized, for the single-process in-memory mode and tests: they outlive the
/// grains that wrote them, not the process. A test cluster's silos share one instance, as a cluster's silos share one
/// database (see <see cref="MemoryCollectionStore"/>).
/// </summary>
/// <remarks>
/// Orleans' own memory storage keeps states in storage grains, so that silos of one cluster share them: each write is
/// a grain call (a message, a turn on another activation, a response) and a key string built per call. With one silo
/// that buys nothing (see docs/benchmarks.md for what it cost).
/// A state's row is written in place, its bytes into its own buffer when they are as long as before (a refresh's are):
/// a new row and buffer per write outlived a young-generation collection (an old dictionary held them) and died old, one
/// write later, which is what made the collections of a busy gateway long (docs/benchmarks.md).
/// </remarks>
public sealed class MemoryStates
{
    private readonly ConcurrentDictionary<(string StateName, GrainId GrainId), Row> _rows = new();
    private long _lastETag;

    /// <summary>A copy of the state stored under that name for that grain, with its ETag; null when none is.</summary>
    internal Stored? Find(string stateName, GrainId grainId)
    {
        if (!_rows.TryGetValue((stateName, grainId), out var row))
        {
            return null;
        }
        lock (row)
        {
            return row.ETag is null ? null : new Stored(row.Data.ToArray(), row.ETag);
        }
    }

    /// <summary>
    /// Stores <paramref name="data"/> in place of the state stored under <paramref name="etag"/> (null: none stored);
    /// null when another write came between.
    /// </summary>
    internal string? Replace(string stateName, GrainId grainId, string? etag, ReadOnlySpan<byte> data)
    {
        var key = (stateName, grainId);
        while (true)
        {
            if (!_rows.TryGetValue(key, out var row))
            {
                if (etag is not null)
                {
                    return null;
                }
                var added = new Row(data.ToArray(), NextETag());
                if (_rows.TryAdd(key, added))
                {
                    return added.ETag;
                }
                continue;
            }
            lock (row)
            {
                if (row.ETag is null)
                {
                    continue; // removed since it was looked up: look again
                }
                if (row.ETag != etag)
                {
                    return null;
                }
                row.Write(data, NextETag());
                return row.ETag;
            }
        }
    }

    /// <summary>Removes the state stored under <paramref name="etag"/>; false when another write came between.</summary>
    internal bool Remove(string stateName, GrainId grainId, string? etag)
    {
        var key = (stateName, grainId);
        if (!_rows.TryGetValue(key, out var row))
        {
            return etag is null;
        }
        lock (row)
        {
            if (row.ETag is null)
            {
                return etag is null;
            }
            if (row.ETag != etag)
            {
                return false;
            }
            row.Clear();
            // Only this row: a writer that looked it up before sees it cleared and looks again.
            _rows.TryRemove(new KeyValuePair<(string, GrainId), Row>(key, row));
            return true;
        }
    }

    private string NextETag() => Interlocked.Increment(ref _lastETag).ToString(CultureInfo.InvariantCulture);

    /// <summary>A state as it was read: its own copy of the bytes.</summary>
    internal sealed record Stored(byte[] Data, string ETag);

    /// <summary>
    /// One stored state, written under its own monitor (a Lock object per state would add an object for each online
    /// user); a null ETag once removed.
    /// </summary>
    private sealed class Row(byte[] data, string etag)
    {
        public byte[] Data { get; private set; } = data;

        public string? ETag { get; private set; } = etag;

        public void Write(ReadOnlySpan<byte> data, string etag)
        {
            if (data.Length == Data.Length)
            {
                data.CopyTo(Data);
            }
            else
            {
                Data = data.ToArray();
            }
            ETag = etag;
        }

        public void Clear() => (Data, ETag) = ([], null);
    }
}
