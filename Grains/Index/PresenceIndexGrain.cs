using System.Globalization;
using Microsoft.Extensions.Options;
using Presence.Events;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Grains.Timers;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// One shard of a tenant's online users: a thin coordinator over plain parts — the entries with their order and
/// expiry wheel (<see cref="ShardEntries"/>), the ten-minute change log (<see cref="ChangeLog"/>), the gateways' stream
/// holds (<see cref="HoldLeases"/>) and watches (<see cref="ShardWatches"/>). Every entry point that changes or lists
/// entries (Apply, RenewHold, List, ChangesSince, the timer) runs the same sequence: apply what is due, make its own
/// change, then <see cref="Complete"/>: store what changed, re-arm the one timer, tell the watching gateways. Watch
/// only updates <see cref="ShardWatches"/>, and Find only reads.
/// Stored by change (<c>Presence:Index:Persist</c>, on with PostgreSQL): each entry, logged change and hold is a row of
/// the shard's collection, written in the turn that changed it — one write per call, however many updates the
/// publisher's batch carried (group commit) — so a shard reactivated anywhere, after a crash too, comes back whole.
/// Refreshes that only move entries' times are written together, one write per <c>Presence:Storage:RefreshCoalesce</c>,
/// and at deactivation: a heartbeat costs no write of its own.
/// A shard lives as long as it holds something (<see cref="KeepWhileNeeded"/>): online users (their timelines, which its
/// timer moves offline on time), logged changes within the log's ten minutes, gateways' holds, refreshes not yet
/// written. Then it goes like any idle grain, after <see cref="IdleFor"/> without a call: a gateway watching its users
/// renews that watch more often than this, so no watch is lost. An empty tenant, or the empty shards of a small one,
/// hold no activation for long.
/// Reads of one user (<see cref="Find"/>) are also answered without a grain call by a gateway in the same process
/// (<see cref="LocalIndexShards"/>): entries are changed only in the shard's turns, under a sequence number that
/// readers on other threads check, so a reader sees an entry as it was between two changes or tries again.
/// </summary>
[GrainType("presence-index")]
public sealed partial class PresenceIndexGrain(
    CollectionStorage storage,
    TimeProvider time,
    PresenceMetrics metrics,
    LocalIndexShards local,
    IOptions<PresenceIndexOptions> options,
    IOptions<PresenceStorageOptions> storageOptions,
    ILogger<PresenceIndexGrain> logger) : Grain, IPresenceIndexGrain
{
    private const string EntryPrefix = "e:";
    private const string LogPrefix = "l:";
    private const string HoldPrefix = "h:";

    private readonly ChangeLog _log = new() { TrackPruned = options.Value.Persist };
    private readonly HoldLeases _holds = new() { TrackChanges = options.Value.Persist };
    private readonly ShardWatches _watches = new();
    private ShardEntries _entries = null!;
    private CollectionJournal? _journal;
    private OneShotTimer? _timer;
    // When the refreshes kept in memory are next written, in one write: MaxValue while there are none.
    private DateTimeOffset _refreshesDue = DateTimeOffset.MaxValue;
    // The key, split once at activation.
    private string _shardKey = "";
    private string _tenant = "";
    private int _shardIndex;
    // Set when the shard starts going away: a same-process read that overlaps it asks the next activation instead.
    private volatile bool _closed;
    // Whether the shard keeps itself active (it holds something a deactivation would lose, or a caller would miss).
    private bool _kept;

    /// <summary>How long an empty shard stays without a call: longer than a gateway waits between renewals of its watches.</summary>
    public static readonly TimeSpan IdleFor = GatewayWatch.Lifetime;

    /// <summary>Users held right now (for tests that check what the timer did without calling the grain).</summary>
    internal int OnlineCount => _entries.Count;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _shardKey = this.GetPrimaryKeyString();
        var (tenant, index) = PresenceKeys.Split(_shardKey);
        _tenant = tenant;
        _shardIndex = int.Parse(index, CultureInfo.InvariantCulture);
        _entries = new ShardEntries(_log, _holds, options.Value.Persist);
        if (options.Value.Persist)
        {
            _journal = storage.Open(CollectionKind.IndexShard, _shardKey);
            await Restore(cancellationToken);
        }
        local.Add(_tenant, _shardIndex, this);
    }

    private async Task Restore(CancellationToken cancellationToken)
    {
        var stored = await _journal!.LoadAsync(cancellationToken);
        var now = time.GetUtcNow();
        var entries = new List<IndexUpdate>();
        var logged = new List<LoggedChange>();
        foreach (var (item, payload) in stored.Items)
        {
            if (item.StartsWith(EntryPrefix, StringComparison.Ordinal))
            {
                entries.Add(_journal.Read<IndexUpdate>(payload));
            }
            else if (item.StartsWith(LogPrefix, StringComparison.Ordinal))
            {
                logged.Add(_journal.Read<LoggedChange>(payload));
            }
            else if (item.StartsWith(HoldPrefix, StringComparison.Ordinal))
            {
                _holds.Restore(item[HoldPrefix.Length..], _journal.Read<HoldLeaseSnapshot>(payload));
            }
        }
        // The log first: its tombstones keep users who went offline from coming back with an older entry.
        foreach (var change in logged.OrderBy(c => c.Sequence))
        {
            _log.Restore(change);
        }
        foreach (var entry in entries)
        {
            _entries.Apply(entry, now, restoring: true);
        }
        if (!_journal.Exists)
        {
            await CarryOverSnapshot(now);
        }
        Advance(now);
        await Complete(now);
        if (_entries.Count > 0 || _log.Count > 0)
        {
            LogRestored(_shardKey, _entries.Count, _log.Count, _holds.Count);
        }
    }

    /// <summary>A snapshot an earlier version wrote when the shard was deactivated: its content becomes rows, then it goes.</summary>
    private async Task CarryOverSnapshot(DateTimeOffset now)
    {
        var legacy = new LegacyState<IndexShardSnapshot>(this, "index");
        if (await legacy.ReadAsync() is not { } snapshot)
        {
            return;
        }
        foreach (var change in snapshot.Log)
        {
            _log.Append(change);
        }
        foreach (var (source, lease) in snapshot.Holds)
        {
            _holds.Restore(source, lease, changed: true);
        }
        foreach (var entry in snapshot.Entries)
        {
            _entries.Apply(entry, now, restoring: true);
        }
        _entries.MarkAllDirty();
        await Complete(now);
        await legacy.ClearAsync();
        LogCarriedOver(_shardKey, snapshot.Entries.Length);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _closed = true;
        local.Remove(_tenant, _shardIndex, this);
        metrics.ShardOnline(_shardKey, "", 0);
        if (_journal is null)
        {
            return;
        }
        // Refreshes kept in memory within the coalescing window: a graceful move (a rolling deploy) loses none of them.
        _entries.MarkUnsavedDirty();
        try
        {
            await Store();
        }
        catch (Exception error)
        {
            // Storage going away (in-memory, with the last silo): the rows written as things changed still stand.
            LogDeactivationWriteFailed(error, _shardKey);
        }
    }

    public async Task Apply(IndexUpdate[] updates)
    {
        var now = time.GetUtcNow();
        Advance(now);
        foreach (var update in updates)
        {
            _entries.Apply(update, now);
        }
        await Complete(now);
    }

    public async Task<bool> RenewHold(string source, TimeSpan lease)
    {
        var now = time.GetUtcNow();
        Advance(now); // releases what lapsed first: a gateway back after its lease must learn it
        var alive = _holds.Renew(source, now, lease);
        await Complete(now);
        return alive;
    }

    public Task Watch(GatewayWatch gateway, string[] add, string[] remove, bool replace)
    {
        _watches.Update(gateway, add, remove, replace);
        return Task.CompletedTask;
    }

    public async Task<IndexSlice> List(string? afterUserId, int count, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Advance(now);
        await Complete(now);
        var (users, more) = _entries.Page(afterUserId, count);
        return new IndexSlice([.. users], more);
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
        var answered = !_entries.TryGet(userId, out var entry)
            || PresenceKeys.ShardOf(userId, options.Value.Shards) != _shardIndex
            || entry.TryRead(time.GetUtcNow(), out view);
        Interlocked.MemoryBarrier(); // what was read was read before the shard could have started going away
        return answered && !_closed;
    }

    public async Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Advance(now);
        await Complete(now);
        return _log.Since(since);
    }

    private async Task OnTimer(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var before = _entries.Count;
        if (now >= _refreshesDue)
        {
            _refreshesDue = DateTimeOffset.MaxValue;
            _entries.MarkUnsavedDirty();
        }
        Advance(now);
        if (before > _entries.Count)
        {
            LogExpired(_shardKey, before - _entries.Count);
        }
        await Complete(now);
        _watches.DropStale();
    }

    /// <summary>
    /// Applies what is due at <paramref name="now"/>: steps of timelines, the log's pruning, and holds whose lease ended
    /// (their gateway stopped renewing: it died), each released from the users it holds here by one one-way call, so
    /// they go offline as the gateway's lease said, not at the end of their own longer one.
    /// </summary>
    private void Advance(DateTimeOffset now)
    {
        var expired = _entries.ApplyDue(now);
        if (expired > 0)
        {
            metrics.Expired(expired);
        }
        _log.Prune(now, _entries.Contains);
        foreach (var hold in _holds.TakeLapsed(now) ?? [])
        {
            var released = 0;
            foreach (var entry in _entries.HeldBy(hold.Source))
            {
                _ = GrainFactory.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(_tenant, entry.UserId)).ReleaseHold(hold.Source, hold.SetBefore);
                released++;
            }
            LogHoldLapsed(_shardKey, hold.Source, released);
        }
    }

    /// <summary>
    /// The end of every turn that changed something: stores what changed (before anyone is told), re-arms the timer,
    /// and sends the changes of watched users to their gateways.
    /// </summary>
    private async Task Complete(DateTimeOffset now)
    {
        var fresh = _log.TakeFresh();
        await Store(fresh);
        if (_entries.HasUnsaved && _refreshesDue == DateTimeOffset.MaxValue)
        {
            // Refreshes are not worth a write each: they go together, within the coalescing window.
            _refreshesDue = now + storageOptions.Value.RefreshCoalesce;
        }
        Rearm();
        if (fresh is not null)
        {
            _watches.Queue(fresh);
            _watches.Send(_tenant, metrics);
        }
    }

    /// <summary>
    /// Writes the rows of what changed, in one write (nothing when the shard does not persist). Never cancelled by a
    /// caller: a reader that leaves must not end the shard's activation.
    /// </summary>
    private async Task Store(List<LoggedChange>? fresh = null)
    {
        if (_journal is null)
        {
            return;
        }
        fresh ??= _log.TakeFresh();
        foreach (var (userId, entry) in _entries.TakeDirty())
        {
            if (entry is null)
            {
                _journal.Delete(EntryPrefix + userId);
            }
            else
            {
                _journal.Put(EntryPrefix + userId, entry.ToUpdate());
            }
        }
        foreach (var logged in fresh ?? [])
        {
            _journal.Put(LogKey(logged.Sequence), logged);
        }
        foreach (var sequence in _log.TakePruned() ?? [])
        {
            _journal.Delete(LogKey(sequence));
        }
        foreach (var (source, lease) in _holds.TakeChanged())
        {
            if (lease is null)
            {
                _journal.Delete(HoldPrefix + source);
            }
            else
            {
                _journal.Put(HoldPrefix + source, lease);
            }
        }
        await _journal.FlushAsync(this);
    }

    private static string LogKey(long sequence) => LogPrefix + sequence.ToString(CultureInfo.InvariantCulture);

    /// <summary>One timer for the shard, due at the earliest step, log pruning or lease end: none while nothing is due.</summary>
    private void Rearm()
    {
        metrics.ShardOnline(_shardKey, _tenant, _entries.Count);
        var due = _entries.EarliestDue;
        if (_log.NextPruneAt < due)
        {
            due = _log.NextPruneAt;
        }
        if (_holds.EarliestEnd < due)
        {
            due = _holds.EarliestEnd;
        }
        if (_refreshesDue < due)
        {
            due = _refreshesDue;
        }
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: true);
        _timer.Set(due);
        KeepWhileNeeded();
    }

    /// <summary>
    /// Active, whatever the calls, while the shard holds users, changes of the log's window, holds or unwritten
    /// refreshes; otherwise collected when idle like any grain (an unpersisted shard would lose them, a persisted one
    /// would leave its users' timelines without a timer).
    /// </summary>
    private void KeepWhileNeeded()
    {
        var needed = _entries.Count > 0 || _log.Count > 0 || _holds.Count > 0 || _refreshesDue != DateTimeOffset.MaxValue;
        if (needed == _kept)
        {
            return;
        }
        _kept = needed;
        DelayDeactivation(needed ? Timeout.InfiniteTimeSpan : TimeSpan.Zero);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index shard {Shard}: could not write its refreshes at deactivation; they read up to one coalescing window early")]
    private partial void LogDeactivationWriteFailed(Exception error, string shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shard {Shard}: restored {Count} online users, {Changes} logged changes and {Holds} stream holds from storage")]
    private partial void LogRestored(string shard, int count, int changes, int holds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shard {Shard}: carried {Count} online users over from its deactivation snapshot")]
    private partial void LogCarriedOver(string shard, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index shard {Shard}: {Count} users expired")]
    private partial void LogExpired(string shard, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index shard {Shard}: stream hold {Source} was not renewed in time (its gateway died?); released it from {Count} users")]
    private partial void LogHoldLapsed(string shard, string source, int count);
}
