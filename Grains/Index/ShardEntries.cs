using System.Collections.Concurrent;
using Presence.Grains.Collections;
using Presence.Grains.Timers;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// A shard's online users: the entries (in a concurrent map, for readers in the same process), their order by id (for
/// pages), and the wheel that moves each along its timeline on time. Every change of what others see is logged in the
/// <see cref="ChangeLog"/>. When the shard persists, entries whose row must be written (or deleted) are remembered for
/// <see cref="TakeDirty"/> at once on a change of status, text, profile, holds or timeline shape; a refresh that only
/// moves times marks its entry <see cref="IndexEntry.Unsaved"/>, for the shard's periodic write of refreshes.
/// </summary>
internal sealed class ShardEntries(ChangeLog log, HoldLeases holds, bool persist, int shards)
{
    // Written by one writer at a time (a turn of the node, or an update applied between its turns), read from any
    // thread; small at first, as most shards are.
    private readonly ConcurrentDictionary<string, IndexEntry> _entries = new(concurrencyLevel: 1, capacity: 3, StringComparer.Ordinal);
    private readonly SortedKeys<IndexEntry> _order = new();
    private readonly ExpiryWheel<IndexEntry> _wheel = new();
    private HashSet<string>? _dirty;

    public int Count => _order.Count;

    /// <summary>The earliest second an entry's next step is due, or MaxValue.</summary>
    public DateTimeOffset EarliestDue => _wheel.EarliestDue;

    public bool Contains(string userId) => _entries.ContainsKey(userId);

    /// <summary>
    /// Whether applying <paramref name="update"/> at <paramref name="now"/> may log a change: false only for a refresh of
    /// a listed user that keeps its status and text and has no step due at once.
    /// </summary>
    public bool MayLog(IndexUpdate update, DateTimeOffset now)
        => !_entries.TryGetValue(update.UserId, out var entry) || entry.Status != update.Status || entry.StatusText != update.StatusText
            || update.Steps.Length == 0 || update.Steps[0].At <= now;

    /// <summary>
    /// Whether applying <paramref name="update"/> at <paramref name="now"/> would only move the times of a listed user's
    /// entry (a heartbeat): a newer version with the same status, text, profile, holds and timeline shape, and no step
    /// due at once, of the update or of the entry (the node's timer runs a little after a step is due: the step must be
    /// logged and stored first). A persisting shard writes such an entry with its other refreshes, not before the
    /// caller is answered.
    /// </summary>
    public bool OnlyMovesTimes(IndexUpdate update, DateTimeOffset now)
        => _entries.TryGetValue(update.UserId, out var entry) && update.Version > entry.Version
            && update.Steps.Length > 0 && update.Steps[0].At > now && !(entry.NextDue <= now)
            && OnlyTimesDiffer(entry, update.Status, update, holds.Known(update.Holds), next: 0);

    public bool TryGet(string userId, out IndexEntry entry) => _entries.TryGetValue(userId, out entry!);

    /// <summary>
    /// Applies what a user grain published (or, <paramref name="restoring"/>, what the shard stored): stale updates
    /// (an older version than the entry's or than the user's tombstone) are ignored.
    /// </summary>
    public void Apply(IndexUpdate update, DateTimeOffset now, bool restoring = false)
    {
        _entries.TryGetValue(update.UserId, out var entry);
        var known = entry?.Version ?? log.TombstoneOf(update.UserId) ?? long.MinValue;
        if (update.Version <= known)
        {
            return;
        }

        // The update may have spent a moment in transit (or the shard was away): skip steps already due. Restored, the
        // steps that fell due while the shard was away are changes nobody logged yet (a row is rewritten whenever a
        // step is applied, so these were not).
        var status = update.Status;
        var next = 0;
        var wentOfflineAt = now;
        while (next < update.Steps.Length && update.Steps[next].At <= now)
        {
            var step = update.Steps[next];
            if (restoring && step.Status is not null && step.Status != status)
            {
                log.Append(new PresenceChange(step.At, update.UserId, update.Profile, step.Status, update.LastSeenAt, update.StatusText, update.Version));
            }
            status = step.Status;
            wentOfflineAt = step.At;
            next++;
        }

        if (status is null)
        {
            if (entry is not null)
            {
                Remove(entry, wentOfflineAt, update.LastSeenAt, update.Version);
            }
            else if (restoring && update.Steps.Length > 0)
            {
                // This user expired while the shard was away: the change log must say so, and its row goes.
                log.Append(new PresenceChange(wentOfflineAt, update.UserId, update.Profile, PresenceStatus.Offline, update.LastSeenAt, Version: update.Version), update.Version);
                MarkDirty(update.UserId);
            }
            return;
        }

        var knownHolds = holds.Known(update.Holds);
        // Only a shard that persists needs to know (and its updates pay for the comparison).
        var material = persist && !restoring && (entry is null || !OnlyTimesDiffer(entry, status, update, knownHolds, next));
        if (entry is null)
        {
            entry = new IndexEntry(update.UserId, PresenceKeys.ShardOf(update.UserId, shards)); // not readable until its first change ends
            _entries.TryAdd(update.UserId, entry);
            _order.Add(entry);
            log.ClearTombstone(update.UserId);
            if (!restoring)
            {
                log.Append(new PresenceChange(now, update.UserId, update.Profile, status, update.LastSeenAt, update.StatusText, update.Version));
            }
        }
        else if ((entry.Status != status || entry.StatusText != update.StatusText) && !restoring)
        {
            log.Append(new PresenceChange(now, update.UserId, update.Profile, status, update.LastSeenAt, update.StatusText, update.Version));
        }
        entry.BeginChange();
        entry.Version = update.Version;
        entry.StatusText = update.StatusText;
        entry.Profile = update.Profile;
        entry.LastSeenAt = update.LastSeenAt;
        entry.Status = status;
        // The entry keeps an array of its own and a refresh (a heartbeat: one step, to offline, as long as the timeline
        // it replaces) is copied into it: the update's array dies young, where replacing every entry's array on every
        // heartbeat would promote each to the oldest generation before it dies. Never the update's own array: an
        // [Immutable] update is passed by reference within a silo, and whoever else holds it must not see it change.
        if (entry.Steps.Length == update.Steps.Length && entry.Steps.Length > 0)
        {
            update.Steps.CopyTo(entry.Steps, 0);
        }
        else
        {
            entry.Steps = [.. update.Steps];
        }
        entry.NextStep = next;
        entry.EndChange();
        entry.Holds = knownHolds;
        _wheel.Schedule(entry);

        if (material)
        {
            MarkDirty(entry.UserId);
            entry.Unsaved = false;
        }
        else if (persist && !restoring)
        {
            entry.Unsaved = true;
            HasUnsaved = true;
        }
    }

    /// <summary>Whether a refresh moved an entry since the last <see cref="MarkUnsavedDirty"/>.</summary>
    public bool HasUnsaved { get; private set; }

    /// <summary>Moves every entry whose next step is due at <paramref name="now"/> along its timeline; returns how many went offline.</summary>
    public int ApplyDue(DateTimeOffset now)
    {
        var expired = 0;
        foreach (var userId in _wheel.TakeDue(now))
        {
            if (!_entries.TryGetValue(userId, out var entry))
            {
                continue;
            }
            entry.Bucket = long.MaxValue; // its bucket was taken out of the wheel
            StatusStep? expiry = null;
            entry.BeginChange();
            while (entry.NextStep < entry.Steps.Length && entry.Steps[entry.NextStep].At <= now)
            {
                // The step to offline stays next: a reader that found the entry before it is removed sees it due.
                var step = entry.Steps[entry.NextStep];
                if (step.Status is null)
                {
                    expiry = step;
                    break;
                }
                entry.NextStep++;
                if (step.Status != entry.Status)
                {
                    entry.Status = step.Status;
                    log.Append(new PresenceChange(step.At, userId, entry.Profile, step.Status, entry.LastSeenAt, entry.StatusText, entry.Version));
                    // Its row is rewritten from this step on: a restore then logs only the steps it did not see.
                    MarkDirty(userId);
                }
            }
            entry.EndChange();
            if (expiry is { } offline)
            {
                Remove(entry, offline.At, entry.LastSeenAt, entry.Version);
                expired++;
            }
            else
            {
                _wheel.Schedule(entry);
            }
        }
        return expired;
    }

    /// <summary>
    /// Online users ordered by logical shard then id, from <paramref name="shard"/> on, strictly after
    /// <paramref name="afterUserId"/> within it: at most <paramref name="count"/>, and whether more follow.
    /// </summary>
    public (List<OnlineUser> Users, bool More) Page(int shard, string? afterUserId, int count)
    {
        var users = new List<OnlineUser>(Math.Min(count, _order.Count));
        foreach (var entry in _order.After(shard, afterUserId))
        {
            if (users.Count == count)
            {
                return (users, true);
            }
            users.Add(new OnlineUser(entry.UserId, entry.Profile, entry.Status, entry.LastSeenAt, entry.StatusText));
        }
        return (users, false);
    }

    /// <summary>Every entry, in no order.</summary>
    public ICollection<IndexEntry> All => _entries.Values;

    /// <summary>The users a stream hold keeps online here.</summary>
    public IEnumerable<IndexEntry> HeldBy(string source)
    {
        foreach (var entry in _entries.Values)
        {
            if (entry.Holds is { } held && Array.IndexOf(held, source) >= 0)
            {
                yield return entry;
            }
        }
    }

    /// <summary>Every entry, to write again (carrying an older format over).</summary>
    public void MarkAllDirty()
    {
        foreach (var userId in _entries.Keys)
        {
            MarkDirty(userId);
        }
    }

    /// <summary>Entries moved by refreshes since their row was written, to write now (periodically, and before the shard goes away).</summary>
    public void MarkUnsavedDirty()
    {
        HasUnsaved = false;
        foreach (var entry in _entries.Values)
        {
            if (entry.Unsaved)
            {
                entry.Unsaved = false;
                MarkDirty(entry.UserId);
            }
        }
    }

    /// <summary>Each user whose row changed since the last call, with its entry (null: the row goes).</summary>
    public IEnumerable<(string UserId, IndexEntry? Entry)> TakeDirty()
    {
        if (_dirty is not { } dirty)
        {
            yield break;
        }
        _dirty = null;
        foreach (var userId in dirty)
        {
            yield return (userId, _entries.GetValueOrDefault(userId));
        }
    }

    private void Remove(IndexEntry entry, DateTimeOffset at, DateTimeOffset? lastSeenAt, long version)
    {
        entry.BeginChange();
        entry.Gone = true;
        entry.EndChange();
        _entries.TryRemove(entry.UserId, out _);
        _order.Remove(entry.Group, entry.UserId);
        _wheel.Unschedule(entry);
        log.Append(new PresenceChange(at, entry.UserId, entry.Profile, PresenceStatus.Offline, lastSeenAt, Version: version), version);
        MarkDirty(entry.UserId);
    }

    private void MarkDirty(string userId)
    {
        if (persist)
        {
            (_dirty ??= new HashSet<string>(StringComparer.Ordinal)).Add(userId);
        }
    }

    /// <summary>
    /// Whether <paramref name="entry"/> and what <paramref name="update"/> makes of it (<paramref name="status"/> now, its
    /// holds, its timeline from step <paramref name="next"/>) differ only in times: the same row but for them.
    /// </summary>
    private static bool OnlyTimesDiffer(IndexEntry entry, string? status, IndexUpdate update, string[]? knownHolds, int next)
        => entry.Status == status && entry.StatusText == update.StatusText && entry.Profile == update.Profile
            && SameHolds(entry.Holds, knownHolds) && SameShape(entry, update.Steps, next);

    private static bool SameHolds(string[]? a, string[]? b)
        => ReferenceEquals(a, b) || (a is not null && b is not null && a.AsSpan().SequenceEqual(b));

    /// <summary>Whether the remaining timeline goes through the same statuses (only its times moved).</summary>
    private static bool SameShape(IndexEntry entry, StatusStep[] steps, int next)
    {
        if (entry.Steps.Length - entry.NextStep != steps.Length - next)
        {
            return false;
        }
        for (int i = entry.NextStep, j = next; j < steps.Length; i++, j++)
        {
            if (entry.Steps[i].Status != steps[j].Status)
            {
                return false;
            }
        }
        return true;
    }
}
