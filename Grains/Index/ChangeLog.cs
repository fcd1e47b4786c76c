using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// A shard's changes of the last <see cref="PresenceChange.Window"/>, for "changed since" queries, each with a
/// sequence number (its row's key when the shard persists). It also keeps the version of each user who went offline
/// while that change is in the log (a tombstone), so a late, older update cannot bring the user back. Changes appended
/// since the shard last took them are <see cref="TakeFresh">fresh</see>: to send to watching gateways and to store.
/// </summary>
internal sealed class ChangeLog
{
    private readonly Queue<LoggedChange> _changes = new();
    // Made on the first tombstone: most small tenants' shards never need one (a tenant costs what its users cost).
    private Dictionary<string, long>? _tombstones;
    private List<LoggedChange>? _fresh;
    private List<long>? _pruned;
    private long _nextSequence = 1;

    public int Count => _changes.Count;

    /// <summary>Whether changes were appended since the last <see cref="TakeFresh"/>.</summary>
    public bool HasFresh => _fresh is not null;

    /// <summary>Every change in the log, oldest first.</summary>
    public IEnumerable<LoggedChange> All => _changes;

    /// <summary>
    /// The first instant at which <see cref="Prune"/> drops the oldest change (a change exactly one window old is still
    /// kept); MaxValue when the log is empty. Never a time a prune at it would leave unchanged: a node's timer asks for
    /// it, and a time it cannot move past would fire again and again on a clock that stands still.
    /// </summary>
    public DateTimeOffset NextPruneAt => _changes.TryPeek(out var oldest) ? oldest.Change.At + PresenceChange.Window + TimeSpan.FromTicks(1) : DateTimeOffset.MaxValue;

    /// <summary>Whether pruned changes are remembered for <see cref="TakePruned"/> (the shard deletes their rows).</summary>
    public bool TrackPruned { get; init; }

    /// <summary>Logs a change; <paramref name="tombstone"/>, when not 0, is the version of a user who went offline.</summary>
    public void Append(PresenceChange change, long tombstone = 0)
    {
        var logged = new LoggedChange(_nextSequence++, change, tombstone);
        _changes.Enqueue(logged);
        (_fresh ??= []).Add(logged);
        if (tombstone != 0)
        {
            (_tombstones ??= new(StringComparer.Ordinal))[change.UserId] = tombstone;
        }
    }

    /// <summary>A change as stored (at activation): logged again, not fresh.</summary>
    public void Restore(LoggedChange logged)
    {
        _changes.Enqueue(logged);
        _nextSequence = Math.Max(_nextSequence, logged.Sequence + 1);
        if (logged.Tombstone != 0)
        {
            (_tombstones ??= new(StringComparer.Ordinal))[logged.Change.UserId] = logged.Tombstone;
        }
    }

    public long? TombstoneOf(string userId) => _tombstones is not null && _tombstones.TryGetValue(userId, out var version) ? version : null;

    public void ClearTombstone(string userId) => _tombstones?.Remove(userId);

    /// <summary>Drops what is older than the window; a tombstone goes with its change unless the user is back (<paramref name="listed"/>).</summary>
    public void Prune(DateTimeOffset now, Func<string, bool> listed)
    {
        var horizon = now - PresenceChange.Window;
        while (_changes.TryPeek(out var oldest) && oldest.Change.At < horizon)
        {
            _changes.Dequeue();
            if (TrackPruned)
            {
                (_pruned ??= []).Add(oldest.Sequence);
            }
            if (oldest.Tombstone != 0 && !listed(oldest.Change.UserId) && _tombstones is not null && _tombstones.TryGetValue(oldest.Change.UserId, out var version) && version == oldest.Tombstone)
            {
                _tombstones.Remove(oldest.Change.UserId);
            }
        }
    }

    public PresenceChange[] Since(DateTimeOffset since)
    {
        var found = new List<PresenceChange>();
        foreach (var logged in _changes)
        {
            if (logged.Change.At >= since)
            {
                found.Add(logged.Change);
            }
        }
        return [.. found];
    }

    /// <summary>The changes appended since the last call, oldest first.</summary>
    public List<LoggedChange>? TakeFresh()
    {
        var fresh = _fresh;
        _fresh = null;
        return fresh;
    }

    /// <summary>The sequence numbers of the changes pruned since the last call.</summary>
    public List<long>? TakePruned()
    {
        var pruned = _pruned;
        _pruned = null;
        return pruned;
    }
}

/// <summary>A logged change as its shard stores it: its sequence number, and the tombstone version it set (0: none).</summary>
[GenerateSerializer, Immutable, Alias("presence.LoggedChange")]
public sealed record LoggedChange(long Sequence, PresenceChange Change, long Tombstone);
