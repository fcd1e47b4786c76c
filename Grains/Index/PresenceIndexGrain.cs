using System.Collections.Concurrent;
using Presence.Events;
using Presence.Grains.Hosting;
using Presence.Grains.Timers;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// One shard of a tenant's online users, held in memory. Every entry carries the timeline its user grain
/// computed, so the shard alone moves users through their expiries: one timer for the whole shard, armed for
/// the earliest due second, no activation of the users involved. Reads apply due steps first, so they are exact
/// even when the timer is late. Changes of the last ten minutes are logged for "changed since" queries.
/// [KeepAlive]: the shard is the only holder of this state, it must not be collected while idle. When it is
/// deactivated anyway (a silo shutting down, a rolling deploy), it writes a snapshot that its next activation, on
/// whichever silo, loads and then clears: the list survives restarts that are not crashes.
/// Gateways register the users they watch here; each change of a watched user reaches each of those gateways in
/// one one-way call per batch, so the cost of a change grows with gateways, never with connections.
/// Reads of one user (<see cref="Find"/>) are also answered without a grain call by a gateway in the same process
/// (<see cref="LocalIndexShards"/>): entries are changed only in the shard's turns, under a sequence number that
/// readers on other threads check, so a reader sees an entry as it was between two changes or tries again.
/// </summary>
[GrainType("presence-index"), KeepAlive]
public sealed partial class PresenceIndexGrain(
    [PersistentState("index", PresenceStorage.Name)] IPersistentState<IndexShardSnapshot> snapshot,
    TimeProvider time,
    PresenceMetrics metrics,
    LocalIndexShards local,
    Microsoft.Extensions.Options.IOptions<PresenceIndexOptions> options,
    ILogger<PresenceIndexGrain> logger) : Grain, IPresenceIndexGrain
{
    // Concurrent: read by same-process readers (LocalIndexShards) while the shard's turns change it.
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _order = new(StringComparer.Ordinal);
    private readonly ExpiryWheel _wheel = new();
    private readonly Queue<PresenceChange> _log = new();
    // Versions of users that went offline recently, so a late, older update cannot bring them back.
    private readonly Dictionary<string, long> _tombstones = new(StringComparer.Ordinal);
    // Gateways watching users of this shard, and for each watched user the gateways that watch it.
    private readonly Dictionary<Guid, ShardWatch> _watches = [];
    private readonly Dictionary<string, List<ShardWatch>> _watchersOf = new(StringComparer.Ordinal);
    // Stream holds of gateways on this shard's users (by source), each known alive until its lease ends.
    private readonly Dictionary<string, HoldLease> _holds = new(StringComparer.Ordinal);
    private OneShotTimer? _timer;
    // The key, split once at activation.
    private string _shardKey = "";
    private string _tenant = "";
    private int _shardIndex;
    // Set when the shard starts going away: a same-process read that overlaps it asks the next activation instead.
    private volatile bool _closed;

    /// <summary>Users held right now (for tests that check what the timer did without calling the grain).</summary>
    internal int OnlineCount => _order.Count;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _shardKey = this.GetPrimaryKeyString();
        var (tenant, index) = PresenceKeys.Split(_shardKey);
        _tenant = tenant;
        _shardIndex = int.Parse(index, System.Globalization.CultureInfo.InvariantCulture);
        await Restore(cancellationToken);
        local.Add(_tenant, _shardIndex, this);
    }

    private async Task Restore(CancellationToken cancellationToken)
    {
        var saved = snapshot.State;
        if (saved.Entries.Length == 0 && saved.Log.Length == 0 && saved.Holds.Count == 0)
        {
            return;
        }
        var now = time.GetUtcNow();
        foreach (var (source, lease) in saved.Holds)
        {
            _holds[source] = new HoldLease(source) { RenewedAt = lease.RenewedAt, Until = lease.Until };
        }
        foreach (var change in saved.Log)
        {
            _log.Enqueue(change);
        }
        foreach (var entry in saved.Entries)
        {
            Apply(entry, now, logChange: false);
        }
        ApplyDue(now);
        Rearm();
        LogRestored(_shardKey, _order.Count);
        // Cleared at once: a later crash must not bring back entries that have changed since.
        await snapshot.ClearStateAsync(cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _closed = true;
        local.Remove(_tenant, _shardIndex, this);
        metrics.ShardOnline(_shardKey, "", 0);
        if ((_order.Count == 0 && _log.Count == 0 && _holds.Count == 0) || !options.Value.SnapshotOnDeactivation)
        {
            return;
        }
        snapshot.State = new IndexShardSnapshot
        {
            Holds = _holds.Values.ToDictionary(h => h.Source, h => new HoldLeaseSnapshot { RenewedAt = h.RenewedAt, Until = h.Until }, StringComparer.Ordinal),
            Entries = [.. _entries.Values.Select(e => new IndexUpdate(e.UserId, e.Version, e.Profile, e.LastSeenAt, e.Status, e.Steps[e.NextStep..], e.StatusText, e.Holds))],
            Log = [.. _log],
        };
        try
        {
            await snapshot.WriteStateAsync(cancellationToken);
        }
        catch (Exception error)
        {
            // E.g. in-memory storage going away with the last silo: the list is lost, as is everything else there.
            LogSnapshotFailed(_shardKey, error.Message);
        }
    }

    public Task Apply(IndexUpdate[] updates)
    {
        var now = time.GetUtcNow();
        ApplyDue(now);
        foreach (var update in updates)
        {
            Apply(update, now, logChange: true);
        }
        Rearm();
        SendEvents();
        return Task.CompletedTask;
    }

    public Task<bool> RenewHold(string source, TimeSpan lease)
    {
        var now = time.GetUtcNow();
        ApplyDue(now); // releases what lapsed first: a gateway back after its lease must learn it
        var alive = _holds.TryGetValue(source, out var hold);
        if (hold is null)
        {
            _holds.Add(source, hold = new HoldLease(source));
        }
        hold.RenewedAt = now;
        hold.Until = now + lease;
        Rearm();
        SendEvents();
        return Task.FromResult(alive);
    }

    public Task Watch(GatewayWatch gateway, string[] add, string[] remove, bool replace)
    {
        if (!_watches.TryGetValue(gateway.Gateway, out var watch))
        {
            _watches.Add(gateway.Gateway, watch = new ShardWatch(gateway.Gateway));
        }
        watch.Observer = gateway.Observer;
        watch.RenewedAt = Environment.TickCount64;
        if (replace)
        {
            var keep = new HashSet<string>(add, StringComparer.Ordinal);
            foreach (var userId in watch.Users.Where(u => !keep.Contains(u)).ToList())
            {
                Unlink(watch, userId);
            }
        }
        foreach (var userId in remove)
        {
            Unlink(watch, userId);
        }
        foreach (var userId in add)
        {
            if (watch.Users.Add(userId))
            {
                if (!_watchersOf.TryGetValue(userId, out var list))
                {
                    _watchersOf.Add(userId, list = new List<ShardWatch>(1));
                }
                list.Add(watch);
            }
        }
        if (watch.Users.Count == 0)
        {
            _watches.Remove(gateway.Gateway);
        }
        DropStaleWatches();
        return Task.CompletedTask;
    }

    public Task<IndexSlice> List(string? afterUserId, int count, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ApplyDue(now);
        Rearm();
        SendEvents();
        var users = new List<OnlineUser>(Math.Min(count, _order.Count));
        var view = afterUserId is null ? _order : _order.GetViewBetween(afterUserId, MaxKey);
        var more = false;
        foreach (var userId in view)
        {
            if (afterUserId is not null && userId == afterUserId)
            {
                continue;
            }
            if (users.Count == count)
            {
                more = true;
                break;
            }
            var entry = _entries[userId];
            users.Add(new OnlineUser(userId, entry.Profile, entry.Status, entry.LastSeenAt, entry.StatusText));
        }
        return Task.FromResult(new IndexSlice([.. users], more));
    }

    public Task<UserPresence?> Find(string userId)
    {
        // In the shard's own turn no change can be under way: the first try reads.
        TryRead(userId, out var view);
        return Task.FromResult(view);
    }

    /// <summary>
    /// <see cref="Find"/> for a caller on any thread. True with the user as others see it while listed here (online,
    /// visible), or with null when it is not (the user's grain knows); false when this activation cannot say (it is
    /// going away, or the entry kept changing under the reader): the caller then calls the shard.
    /// </summary>
    internal bool TryRead(string userId, out UserPresence? view)
    {
        view = null;
        // Only a user of this shard: an entry restored under another shard count must not answer for a user who now
        // lives elsewhere (the user's grain does).
        var answered = !_entries.TryGetValue(userId, out var entry)
            || PresenceKeys.ShardOf(userId, options.Value.Shards) != _shardIndex
            || entry.TryRead(time.GetUtcNow(), out view);
        Interlocked.MemoryBarrier(); // what was read was read before the shard could have started going away
        return answered && !_closed;
    }

    public Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ApplyDue(now);
        Rearm();
        SendEvents();
        var changes = _log.Where(c => c.At >= since).ToArray();
        return Task.FromResult(changes);
    }

    private void Apply(IndexUpdate update, DateTimeOffset now, bool logChange)
    {
        _entries.TryGetValue(update.UserId, out var entry);
        var known = entry?.Version ?? (_tombstones.TryGetValue(update.UserId, out var gone) ? gone : long.MinValue);
        if (update.Version <= known)
        {
            return;
        }

        // The update may have spent a moment in transit: skip steps already due.
        var status = update.Status;
        var next = 0;
        var wentOfflineAt = now;
        while (next < update.Steps.Length && update.Steps[next].At <= now)
        {
            status = update.Steps[next].Status;
            wentOfflineAt = update.Steps[next].At;
            next++;
        }

        if (status is null)
        {
            if (entry is not null)
            {
                Remove(entry, wentOfflineAt, update.LastSeenAt, update.Version);
            }
            else if (!logChange && update.Steps.Length > 0)
            {
                // Restoring a snapshot: this user expired while the shard was away; the change log must say so.
                _tombstones[update.UserId] = update.Version;
                Log(wentOfflineAt, update.UserId, update.Profile, PresenceStatus.Offline, update.LastSeenAt);
            }
            return;
        }

        if (entry is null)
        {
            entry = new Entry(update.UserId); // not readable until its first change ends
            _entries.TryAdd(update.UserId, entry);
            _order.Add(update.UserId);
            _tombstones.Remove(update.UserId);
            if (logChange)
            {
                Log(now, update.UserId, update.Profile, status, update.LastSeenAt, update.StatusText);
            }
        }
        else if ((entry.Status != status || entry.StatusText != update.StatusText) && logChange)
        {
            Log(now, update.UserId, update.Profile, status, update.LastSeenAt, update.StatusText);
        }
        entry.BeginChange();
        entry.Version = update.Version;
        entry.StatusText = update.StatusText;
        entry.Profile = update.Profile;
        entry.LastSeenAt = update.LastSeenAt;
        entry.Status = status;
        // The entry keeps an array of its own and a refresh (a heartbeat: one step, to offline, as long as the timeline
        // it replaces) is copied into it: the update's array dies young, where replacing every entry's array on every
        // heartbeat promoted each to the oldest generation before it died. Never the update's own array: an
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
        entry.Holds = Known(update.Holds);
        _wheel.Schedule(entry);
    }

    /// <summary>
    /// The holds of an entry. Only a gateway's own renewals make a lease here: a hold this shard has no lease for
    /// (the shard lost it in a crash, or the gateway predates holds by shard) is ended by the user's own backstop. A
    /// single hold with a lease (the usual case) is kept as the lease's own array, not one per user.
    /// </summary>
    private string[]? Known(string[]? holds)
        => holds is [var only] && _holds.TryGetValue(only, out var lease) ? lease.Alone : holds;

    /// <summary>
    /// Releases every hold whose lease ended (its gateway stopped renewing: it died) from the users it holds here, one
    /// one-way call each: they go offline as the gateway's lease said, not at the end of their own longer one.
    /// </summary>
    private void ReleaseLapsedHolds(DateTimeOffset now)
    {
        // Runs with every call and timer tick: nothing is allocated unless a lease did end.
        List<HoldLease>? lapsed = null;
        foreach (var hold in _holds.Values)
        {
            if (hold.Until <= now)
            {
                (lapsed ??= []).Add(hold);
            }
        }
        foreach (var hold in lapsed ?? [])
        {
            _holds.Remove(hold.Source);
            var setBefore = hold.RenewedAt + (hold.Until - hold.RenewedAt) / 2;
            var released = 0;
            foreach (var (_, entry) in _entries)
            {
                if (entry.Holds is { } holds && Array.IndexOf(holds, hold.Source) >= 0)
                {
                    _ = GrainFactory.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(_tenant, entry.UserId)).ReleaseHold(hold.Source, setBefore);
                    released++;
                }
            }
            LogHoldLapsed(_shardKey, hold.Source, released);
        }
    }

    /// <summary>Moves every entry whose next step is due at <paramref name="now"/> along its timeline.</summary>
    private void ApplyDue(DateTimeOffset now)
    {
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
                    Log(step.At, userId, entry.Profile, step.Status, entry.LastSeenAt, entry.StatusText);
                }
            }
            entry.EndChange();
            if (expiry is { } offline)
            {
                Remove(entry, offline.At, entry.LastSeenAt, entry.Version);
                metrics.Expired(1);
            }
            else
            {
                _wheel.Schedule(entry);
            }
        }
        PruneLog(now);
        ReleaseLapsedHolds(now);
    }

    private void Remove(Entry entry, DateTimeOffset at, DateTimeOffset? lastSeenAt, long version)
    {
        entry.BeginChange();
        entry.Gone = true;
        entry.EndChange();
        _entries.TryRemove(entry.UserId, out _);
        _order.Remove(entry.UserId);
        _wheel.Unschedule(entry);
        _tombstones[entry.UserId] = version;
        Log(at, entry.UserId, entry.Profile, PresenceStatus.Offline, lastSeenAt);
    }

    private void Log(DateTimeOffset at, string userId, UserProfile profile, string status, DateTimeOffset? lastSeenAt, string? statusText = null)
    {
        var change = new PresenceChange(at, userId, profile, status, lastSeenAt, statusText);
        _log.Enqueue(change);
        if (_watchersOf.Count > 0 && _watchersOf.TryGetValue(userId, out var watchers))
        {
            foreach (var watch in watchers)
            {
                // A burst of changes of one user in one batch reaches the gateway as its latest.
                (watch.Outgoing ??= new Dictionary<string, PresenceChange>(StringComparer.Ordinal))[userId] = change;
            }
        }
    }

    /// <summary>Sends what was logged for watched users: one one-way call per gateway.</summary>
    private void SendEvents()
    {
        if (_watches.Count == 0)
        {
            return;
        }
        foreach (var watch in _watches.Values)
        {
            if (watch.Outgoing is { Count: > 0 } outgoing)
            {
                watch.Outgoing = null;
                _ = watch.Observer!.OnUserChanges(_tenant, [.. outgoing.Values]);
                metrics.EventBatchSent();
            }
        }
    }

    private void Unlink(ShardWatch watch, string userId)
    {
        if (watch.Users.Remove(userId) && _watchersOf.TryGetValue(userId, out var list))
        {
            list.Remove(watch);
            if (list.Count == 0)
            {
                _watchersOf.Remove(userId);
            }
        }
    }

    /// <summary>Gateways that stopped renewing (they died) are forgotten; liveness is on the machine's clock.</summary>
    private void DropStaleWatches()
    {
        var horizon = Environment.TickCount64 - (long)GatewayWatch.Lifetime.TotalMilliseconds;
        foreach (var watch in _watches.Values.Where(w => w.RenewedAt < horizon).ToList())
        {
            foreach (var userId in watch.Users.ToList())
            {
                Unlink(watch, userId);
            }
            _watches.Remove(watch.Gateway);
        }
    }

    private void PruneLog(DateTimeOffset now)
    {
        var horizon = now - PresenceChange.Window;
        while (_log.TryPeek(out var oldest) && oldest.At < horizon)
        {
            _log.Dequeue();
            // A tombstone is only needed while an update older than it could still be in flight.
            if (oldest.Status == PresenceStatus.Offline && !_entries.ContainsKey(oldest.UserId))
            {
                _tombstones.Remove(oldest.UserId);
            }
        }
    }

    /// <summary>One timer for the shard, due at the earliest step or log pruning; a timer tick keeps the shard alive.</summary>
    private void Rearm()
    {
        metrics.ShardOnline(_shardKey, _tenant, _order.Count);
        var due = _wheel.EarliestDue;
        if (_log.TryPeek(out var oldest) && oldest.At + PresenceChange.Window < due)
        {
            due = oldest.At + PresenceChange.Window;
        }
        foreach (var hold in _holds.Values)
        {
            if (hold.Until < due)
            {
                due = hold.Until;
            }
        }
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: true);
        _timer.Set(due);
    }

    private Task OnTimer(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var before = _order.Count;
        ApplyDue(now);
        if (before > _order.Count)
        {
            LogExpired(_shardKey, before - _order.Count);
        }
        Rearm();
        SendEvents();
        DropStaleWatches();
        return Task.CompletedTask;
    }

    // Above every valid id (ids are ASCII): the upper bound of a "from here on" view of the sorted set.
    private const string MaxKey = "\uffff";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index shard {Shard}: could not write its deactivation snapshot ({Reason}); its users reappear at their next update")]
    private partial void LogSnapshotFailed(string shard, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shard {Shard}: restored {Count} online users from its deactivation snapshot")]
    private partial void LogRestored(string shard, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index shard {Shard}: {Count} users expired")]
    private partial void LogExpired(string shard, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index shard {Shard}: stream hold {Source} was not renewed in time (its gateway died?); released it from {Count} users")]
    private partial void LogHoldLapsed(string shard, string source, int count);

    private sealed class HoldLease(string source)
    {
        public string Source { get; } = source;

        /// <summary>The hold as an entry's only one: shared by every user it holds here.</summary>
        public string[] Alone { get; } = [source];

        public DateTimeOffset RenewedAt { get; set; }

        public DateTimeOffset Until { get; set; }
    }

    private sealed class ShardWatch(Guid gateway)
    {
        public Guid Gateway { get; } = gateway;
        public IPresenceEventsObserver? Observer { get; set; }
        public long RenewedAt { get; set; }
        public HashSet<string> Users { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, PresenceChange>? Outgoing { get; set; }
    }

    internal sealed class Entry(string userId)
    {
        public string UserId { get; } = userId;
        public long Version { get; set; }
        public UserProfile Profile { get; set; } = UserProfile.Empty;
        public DateTimeOffset? LastSeenAt { get; set; }
        public string Status { get; set; } = PresenceStatus.Online;
        public string? StatusText { get; set; }
        public StatusStep[] Steps { get; set; } = [];
        public int NextStep { get; set; }

        /// <summary>Stream holds among what keeps the user online (see <see cref="RenewHold"/>).</summary>
        public string[]? Holds { get; set; }
        // Second of the wheel bucket this entry sits in, or long.MaxValue.
        public long Bucket { get; set; } = long.MaxValue;

        public DateTimeOffset? NextDue => NextStep < Steps.Length ? Steps[NextStep].At : null;

        /// <summary>Removed from its shard: a reader still holding the entry reads the user as not listed.</summary>
        public bool Gone { get; set; }

        // Odd while the shard's turn changes what a reader reads (a seqlock); a new entry starts odd, unreadable.
        private int _sequence = 1;

        public void BeginChange()
        {
            if ((_sequence & 1) == 0)
            {
                Interlocked.Increment(ref _sequence); // a full fence: no change is seen before the count says so
            }
        }

        public void EndChange() => Volatile.Write(ref _sequence, _sequence + 1);

        /// <summary>
        /// The user as others see it at <paramref name="now"/> (null: not listed), read between two changes, from any
        /// thread; computed from the timeline, so a step due before the timer moved it counts. False when a change was
        /// under way at every try.
        /// </summary>
        public bool TryRead(DateTimeOffset now, out UserPresence? view)
        {
            for (var attempt = 0; attempt < 4; attempt++)
            {
                var before = Volatile.Read(ref _sequence);
                if ((before & 1) != 0)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                string? status = Gone ? null : Status;
                var (profile, lastSeenAt, statusText, steps) = (Profile, LastSeenAt, StatusText, Steps);
                for (var step = NextStep; status is not null && step < steps.Length && steps[step].At <= now; step++)
                {
                    status = steps[step].Status;
                }
                Interlocked.MemoryBarrier(); // every field above was read before the count is read again
                if (Volatile.Read(ref _sequence) == before)
                {
                    view = status is null ? null : new UserPresence(UserId, profile, status, lastSeenAt, Invisible: false, statusText);
                    return true;
                }
            }
            view = null;
            return false;
        }
    }
}
