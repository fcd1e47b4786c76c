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
/// </remarks>
public sealed class MemoryStates
{
    private readonly ConcurrentDictionary<(string StateName, GrainId GrainId), Stored> _states = new();
    private long _lastETag;

    internal Stored? Find(string stateName, GrainId grainId) => _states.GetValueOrDefault((stateName, grainId));

    /// <summary>
    /// Stores <paramref name="data"/> in place of the state stored under <paramref name="etag"/> (null: none stored);
    /// null when another write came between.
    /// </summary>
    internal string? Replace(string stateName, GrainId grainId, string? etag, byte[] data)
    {
        var key = (stateName, grainId);
        var next = new Stored(data, Interlocked.Increment(ref _lastETag).ToString(CultureInfo.InvariantCulture));
        if (etag is null)
        {
            return _states.TryAdd(key, next) ? next.ETag : null;
        }
        // Stored is compared by reference: the swap succeeds only over the very row the caller read or wrote.
        return _states.TryGetValue(key, out var current) && current.ETag == etag && _states.TryUpdate(key, next, current) ? next.ETag : null;
    }

    /// <summary>Removes the state stored under <paramref name="etag"/>; false when another write came between.</summary>
    internal bool Remove(string stateName, GrainId grainId, string? etag)
    {
        var key = (stateName, grainId);
        if (!_states.TryGetValue(key, out var current))
        {
            return etag is null;
        }
        return current.ETag == etag && _states.TryRemove(new KeyValuePair<(string, GrainId), Stored>(key, current));
    }

    internal sealed class Stored(byte[] data, string etag)
    {
        public byte[] Data { get; } = data;
        public string ETag { get; } = etag;
    }
}
