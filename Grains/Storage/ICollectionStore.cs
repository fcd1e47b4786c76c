namespace Presence.Grains.Storage;

/// <summary>
/// Where grains that hold a collection growing with use (a channel's members, an index shard's online users, a
/// subscriber's subscriptions) keep it: one row per item, written by change, never the whole collection at once.
/// A collection also has a small head (the grain's own bookkeeping) and a version: a write names the version it
/// read or last wrote and fails with <see cref="Presence.Storage.StorageConflictException"/> if another activation
/// wrote since (the same optimistic concurrency Orleans grain storage has through its ETag).
/// Implemented in memory (<see cref="MemoryCollectionStore"/>) and by the silo for PostgreSQL.
/// </summary>
public interface ICollectionStore
{
    /// <summary>The collection as stored: version 0, no head and no items when it was never written.</summary>
    Task<StoredCollection> LoadAsync(CollectionKind kind, string key, CancellationToken cancellationToken);

    /// <summary>Applies <paramref name="write"/> atomically, all or nothing; returns the new version.</summary>
    Task<long> WriteAsync(CollectionKind kind, string key, CollectionWrite write, CancellationToken cancellationToken);
}

/// <summary>Which grain a collection belongs to; stored as a number, so values are never reused.</summary>
public enum CollectionKind : short
{
    Channel = 1,
    IndexShard = 2,
    Subscriptions = 3,
}

/// <summary>A collection as loaded: items in no particular order.</summary>
public sealed record StoredCollection(long Version, byte[]? Head, IReadOnlyList<KeyValuePair<string, byte[]>> Items)
{
    public static readonly StoredCollection Empty = new(0, null, []);
}

/// <summary>
/// One atomic write: the version it expects, the head if it changed (null: unchanged), and items to put (a payload)
/// or delete (null), each item at most once.
/// </summary>
public sealed record CollectionWrite(long ExpectedVersion, byte[]? Head, IReadOnlyList<KeyValuePair<string, byte[]?>> Items);
