using Orleans.Serialization;

namespace Presence.Grains.Storage;

/// <summary>
/// What a grain changed in its collection since the last write, item by item, and the write that stores it: an item
/// changed several times before the write is written once, as it was last staged. Items and head are stored with the
/// Orleans serializer, version tolerant through their [Id]s like grain state.
/// </summary>
internal sealed class CollectionJournal(ICollectionStore store, Serializer serializer, CollectionKind kind, string key)
{
    private readonly Dictionary<string, byte[]?> _items = new(StringComparer.Ordinal);
    private byte[]? _head;
    private long _version;
    private Exception? _failed;
    // Group commit: the write under way, and the one that will carry what is staged since it started.
    private TaskCompletionSource? _writing;
    private TaskCompletionSource? _next;

    /// <summary>Whether anything is staged and not yet written.</summary>
    public bool HasChanges => _items.Count > 0 || _head is not null;

    /// <summary>Whether the collection was ever written (else an older format may hold it).</summary>
    public bool Exists => _version > 0;

    public async Task<StoredCollection> LoadAsync(CancellationToken cancellationToken)
    {
        var loaded = await store.LoadAsync(kind, key, cancellationToken);
        _version = loaded.Version;
        return loaded;
    }

    public T Read<T>(byte[] payload) => serializer.Deserialize<T>(payload) ?? throw new InvalidDataException($"{kind} {key}: an empty row");

    public void Put<T>(string item, T value) => _items[item] = serializer.SerializeToArray(value);

    public void Delete(string item) => _items[item] = null;

    public void SetHead<T>(T head) => _head = serializer.SerializeToArray(head);

    /// <summary>
    /// Writes what is staged together with whatever calls that interleave stage meanwhile (group commit, for a grain
    /// whose calls interleave): while one write is under way, changes queue for the next, which carries them all, so
    /// a channel joined by many at once writes once per round trip, not once per join. <paramref name="beforeWrite"/>
    /// runs just before each write (to stage what depends on everything staged, such as a reminder's due time). The
    /// task completes when the changes staged before the call are written.
    /// </summary>
    public Task CommitAsync(IGrainBase grain, Func<Task>? beforeWrite = null)
    {
        if (_failed is not null)
        {
            return Task.FromException(Failed());
        }
        if (!HasChanges)
        {
            return WhenWritten();
        }
        var next = _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_writing is null)
        {
            _ = WriteLoop(grain, beforeWrite);
        }
        return next.Task;
    }

    /// <summary>
    /// Completes when everything staged so far is written: a read that must not show what may yet be lost waits for it.
    /// Fails once a write failed: what memory holds may then be what storage does not.
    /// </summary>
    public Task WhenWritten() => _failed is not null ? Task.FromException(Failed()) : _next?.Task ?? _writing?.Task ?? Task.CompletedTask;

    private async Task WriteLoop(IGrainBase grain, Func<Task>? beforeWrite)
    {
        while (_next is { } batch)
        {
            (_writing, _next) = (batch, null);
            try
            {
                if (beforeWrite is not null)
                {
                    await beforeWrite();
                }
                await FlushAsync(grain);
                batch.SetResult();
            }
            catch (Exception error)
            {
                // Also when it was beforeWrite that failed: what is staged was not written, and memory holds it.
                if (_failed is null)
                {
                    _failed = error;
                    grain.DeactivateOnIdle();
                }
                batch.SetException(error);
            }
        }
        _writing = null;
    }

    /// <summary>Whether a write failed: the grain's memory may hold changes storage does not, and nothing more is written.</summary>
    public bool HasFailed => _failed is not null;

    private Exception Failed() => new Presence.Storage.StorageUnavailableException("an earlier write of this collection failed; the activation is being replaced", _failed!);

    /// <summary>
    /// Writes what is staged. If that fails, the grain's memory holds changes storage may not have: the activation is
    /// dropped (its next one loads what storage really holds) and this journal refuses every later write.
    /// </summary>
    public async Task FlushAsync(IGrainBase grain)
    {
        if (_failed is not null)
        {
            throw Failed();
        }
        if (!HasChanges)
        {
            return;
        }
        var write = new CollectionWrite(_version, _head, [.. _items]);
        _items.Clear();
        _head = null;
        try
        {
            // Never cancelled: a write abandoned because one caller left would end the activation for everyone.
            _version = await store.WriteAsync(kind, key, write, CancellationToken.None);
        }
        catch (Exception error)
        {
            _failed = error;
            grain.DeactivateOnIdle();
            throw;
        }
    }
}

/// <summary>Opens the journal of a grain's collection on this silo's <see cref="ICollectionStore"/>.</summary>
public sealed class CollectionStorage(ICollectionStore store, Serializer serializer)
{
    internal CollectionJournal Open(CollectionKind kind, string key) => new(store, serializer, kind, key);
}
