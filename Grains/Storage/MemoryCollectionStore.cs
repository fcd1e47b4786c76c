using System.Collections.Concurrent;
using Presence.Storage;

namespace Presence.Grains.Storage;

/// <summary>
/// Collections in this process's memory, for the single-process in-memory mode and tests: they outlive the grains that
/// wrote them, not the process. A test cluster's silos share one instance, as a cluster's silos share one database.
/// </summary>
public sealed class MemoryCollectionStore : ICollectionStore
{
    private readonly ConcurrentDictionary<(CollectionKind Kind, string Key), Collection> _collections = new();

    public Task<StoredCollection> LoadAsync(CollectionKind kind, string key, CancellationToken cancellationToken)
    {
        if (!_collections.TryGetValue((kind, key), out var collection))
        {
            return Task.FromResult(StoredCollection.Empty);
        }
        lock (collection)
        {
            return Task.FromResult(new StoredCollection(collection.Version, collection.Head, [.. collection.Items]));
        }
    }

    public Task<long> WriteAsync(CollectionKind kind, string key, CollectionWrite write, CancellationToken cancellationToken)
    {
        var collection = _collections.GetOrAdd((kind, key), static _ => new Collection());
        lock (collection)
        {
            if (collection.Version != write.ExpectedVersion)
            {
                return Task.FromException<long>(new StorageConflictException(
                    $"collection {kind} {key} is at version {collection.Version}, not {write.ExpectedVersion}: another activation wrote it"));
            }
            if (write.Head is not null)
            {
                collection.Head = write.Head;
            }
            foreach (var (item, payload) in write.Items)
            {
                if (payload is null)
                {
                    collection.Items.Remove(item);
                }
                else
                {
                    collection.Items[item] = payload;
                }
            }
            return Task.FromResult(++collection.Version);
        }
    }

    private sealed class Collection
    {
        public long Version { get; set; }
        public byte[]? Head { get; set; }
        public Dictionary<string, byte[]> Items { get; } = new(StringComparer.Ordinal);
    }
}
