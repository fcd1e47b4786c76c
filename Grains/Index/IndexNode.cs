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
/// One node of a tenant's index of online users, holding the logical shards [lo, hi) its key names (see
/// <see cref="IPresenceIndexGrain"/>), hosted by a grain: its own (<see cref="PresenceIndexGrain"/>), or, for a tenant's
/// root, the pool that hosts the roots of many tenants (<see cref="IndexPoolGrain"/>), so a small tenant costs one node
/// and no activation of its own. A node holding more than <c>Presence:Index:SplitAt</c> users splits in halves
/// (<see cref="Split"/>), down to one logical shard per node, so a large tenant spreads over as many grains as its size
/// needs. A node that split holds nothing and passes calls on to its halves, answering where it split.
/// A node that holds users is a thin coordinator over plain parts — the entries with their order and
/// expiry wheel (<see cref="ShardEntries"/>), the ten-minute change log (<see cref="ChangeLog"/>), the gateways' stream
/// holds (<see cref="HoldLeases"/>) and watches (<see cref="ShardWatches"/>). Every entry point that changes or lists
/// entries (Apply, RenewHold, List, ChangesSince, the timer) runs the same sequence: apply what is due, make its own
/// change, then <see cref="Complete"/>: store what changed, re-arm the one timer, tell the watching gateways. Watch
/// only updates <see cref="ShardWatches"/>, and Find only reads. All of it runs in its host's turns, but for one thing:
/// where nodes store nothing (the in-memory mode), a user grain in the same process applies its update itself between
/// the node's turns (<see cref="TryApplyHere"/>), and leaves the rest of the sequence to the node's next turn.
/// Stored by change (<c>Presence:Index:Persist</c>, on with PostgreSQL): each entry, logged change and hold is a row of
/// the node's collection, written in the turn that changed it — one write per call, however many updates the
/// publisher's batch carried (group commit) — so a node reloaded anywhere, after a crash too, comes back whole.
/// Refreshes that only move entries' times are written together, one write per <c>Presence:Storage:RefreshCoalesce</c>,
/// and when the node is unloaded: a heartbeat costs no write of its own.
/// A node is <see cref="Needed"/> while it holds something (online users, their timelines, which its timer moves offline
/// on time; logged changes within the log's ten minutes; gateways' holds; refreshes not yet written): its host keeps it.
/// Reads of one user (<see cref="Find"/>) are also answered without a grain call by a gateway in the same process
/// (<see cref="LocalIndexShards"/>): entries are changed by one writer at a time (a turn of the node, or an update
/// applied between turns), under a sequence number that readers on other threads check, so a reader sees an entry as
/// it was between two changes or tries again.
/// </summary>
/// <param name="host">The grain whose turns the node runs in, and whose timers are the node's.</param>
/// <param name="neededChanged">Told when <see cref="Needed"/> changes.</param>
/// <param name="timers">Runs <see cref="OnTimer"/> when the node is next due (its host's one timer for all its nodes).</param>
internal sealed partial class IndexNode(Grain host, string key, IndexNodeServices services, Action<IndexNode> neededChanged, INodeTimers timers)
{
    private const string EntryPrefix = "e:";
    private const string LogPrefix = "l:";
    private const string HoldPrefix = "h:";

    private readonly CollectionStorage storage = services.Storage;
    private readonly TimeProvider time = services.Time;
    private readonly PresenceMetrics metrics = services.Metrics;
    private readonly LocalIndexShards local = services.Local;
    private readonly IOptions<PresenceIndexOptions> options = services.Options;
    private readonly IOptions<PresenceStorageOptions> storageOptions = services.StorageOptions;
    private readonly ILogger logger = services.Logger;
    private ChangeLog _log = null!;
    private HoldLeases _holds = null!;
    private ShardWatches _watches = null!;
    private ShardEntries _entries = null!;
    private CollectionJournal? _journal;
    // When the refreshes kept in memory are next written, in one write: MaxValue while there are none.
    private DateTimeOffset _refreshesDue = DateTimeOffset.MaxValue;
    // The key, split once at activation: the tenant and the range of logical shards.
    private string _shardKey = "";
    private string _tenant = "";
    private int _lo;
    private int _hi;
    // Where this node split (null: it holds its users itself), and whether its content is still to be handed over.
    private int[]? _cuts;
    private bool _handOverPending;
    // Set when the shard starts going away: a same-process read that overlaps it asks the next activation instead.
    private volatile bool _closed;
    // The host's turns in this node under way (across their awaits), and what an update applied here between them
    // left for the next (see TryApplyHere); all under the gate, which also orders their writes for each other.
    private readonly Lock _gate = new();
    private int _turns;
    private bool _settleNeeded;
    // What the node last asked its timer for: an update applied between turns needs a turn when it is due before.
    private DateTimeOffset _asked = DateTimeOffset.MinValue;

    /// <summary>Whether the node holds something an unloading would lose (or a caller would miss): its host keeps it.</summary>
    public bool Needed { get; private set; }

    /// <summary>Whether gateways watch users here (a node only watched stays loaded until its watches lapse).</summary>
    public bool Watched => _watches.Any;

    public string Tenant => _tenant;

    /// <summary>The node's key: its tenant and range of logical shards.</summary>
    public string Key => key;

    /// <summary>Users held right now (for tests that check what the timer did without calling the grain).</summary>
    internal int OnlineCount => _entries.Count;

    public async Task ActivateAsync(CancellationToken cancellationToken)
    {
        using var turn = Turn();
        _shardKey = key;
        var (tenant, id) = PresenceKeys.Split(_shardKey);
        _tenant = tenant;
        if (!PresenceKeys.TryParseShardRange(id, out _lo, out _hi) || _hi > options.Value.Shards)
        {
            throw new ArgumentException($"Index node {_shardKey}: not a range of the {options.Value.Shards} logical shards");
        }
        Reset();
        if (options.Value.Persist)
        {
            _journal = storage.Open(CollectionKind.IndexShard, _shardKey);
            await Restore(cancellationToken);
        }
        if (_cuts is null)
        {
            local.Add(_tenant, _lo, _hi, this);
        }
        else if (_handOverPending)
        {
            await HandOver(); // a split a crash interrupted: its halves take the content again, whole
        }
    }

    /// <summary>Empty parts: at activation, and once the content went to the halves.</summary>
    private void Reset()
    {
        _log = new ChangeLog { TrackPruned = options.Value.Persist };
        _holds = new HoldLeases { TrackChanges = options.Value.Persist };
        _watches = new ShardWatches();
        _entries = new ShardEntries(_log, _holds, options.Value.Persist, options.Value.Shards);
    }

    private async Task Restore(CancellationToken cancellationToken)
    {
        var stored = await _journal!.LoadAsync(cancellationToken);
        var now = time.GetUtcNow();
        _cuts = stored.Head is { } head ? _journal.Read<IndexNodeHead>(head).Cuts : null;
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
            await CarryOverLayout(cancellationToken);
        }
        if (_cuts is not null)
        {
            // Content beside a split: the split wrote where it cut, then was interrupted before its halves took over.
            _handOverPending = _entries.Count > 0 || _log.Count > 0 || _holds.Count > 0;
            return;
        }
        Advance(now);
        await Complete(now);
        if (_entries.Count > 0 || _log.Count > 0)
        {
            LogRestored(_shardKey, _entries.Count, _log.Count, _holds.Count);
        }
    }

    /// <summary>
    /// A tenant's root, stored never before: if the tenant has shards stored under the fixed layout of earlier versions
    /// (one node per logical shard, keyed as today's one-shard nodes), the root is cut at every logical shard, so each
    /// of those nodes holds its own again. Else it is written once as a node that holds its users itself, so this is
    /// asked once per tenant.
    /// </summary>
    private async Task CarryOverLayout(CancellationToken cancellationToken)
    {
        if (_lo != 0 || _hi != options.Value.Shards || _hi - _lo == 1 || _entries.Count > 0 || _log.Count > 0)
        {
            return;
        }
        var units = Enumerable.Range(_lo, _hi - _lo).Select(s => PresenceKeys.ShardKey(_tenant, s)).ToArray();
        var stored = await Task.WhenAll(units.Select(async key =>
            (await storage.Open(CollectionKind.IndexShard, key).LoadAsync(cancellationToken)).Version > 0
            || await new LegacyState<IndexShardSnapshot>(host, "index", GrainId.Create("presence-index", key)).ReadAsync() is not null));
        if (stored.Any(s => s))
        {
            _cuts = [.. Enumerable.Range(_lo + 1, _hi - _lo - 1)];
            LogLayoutCarriedOver(_tenant, units.Length);
        }
        _journal!.SetHead(new IndexNodeHead(_cuts));
        await _journal.FlushAsync(host);
    }

    /// <summary>A snapshot an earlier version wrote when the shard was deactivated: its content becomes rows, then it goes.</summary>
    private async Task CarryOverSnapshot(DateTimeOffset now)
    {
        var legacy = new LegacyState<IndexShardSnapshot>(host, "index", GrainId.Create("presence-index", _shardKey));
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

    /// <summary>The node goes (its host goes, or unloads it): it stops answering readers, and writes its refreshes.</summary>
    public async Task DeactivateAsync()
    {
        using var turn = Turn();
        SettleIfNeeded(inTurn: true); // the watching gateways still hear of updates applied since the last turn
        _closed = true;
        timers.Set(this, DateTimeOffset.MaxValue);
        local.Remove(_tenant, _lo, _hi, this);
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

    public async Task<int[]?> Apply(IndexUpdate[] updates)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            await HandOverIfPending();
            var calls = updates.GroupBy(u => Half(PresenceKeys.ShardOf(u.UserId, options.Value.Shards)))
                .Select(g => Node(g.Key).Apply([.. g]));
            return Below(await Task.WhenAll(calls));
        }
        var now = time.GetUtcNow();
        Advance(now);
        foreach (var update in updates)
        {
            _entries.Apply(update, now);
        }
        await Complete(now);
        return await SplitIfFull();
    }

    public async Task<HoldRenewal> RenewHold(string source, TimeSpan lease)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            await HandOverIfPending();
            var renewals = await Task.WhenAll(Halves().Select(h => Node(h).RenewHold(source, lease)));
            return new HoldRenewal(renewals.All(r => r.Alive), Below(renewals.Select(r => r.Cuts)));
        }
        var now = time.GetUtcNow();
        Advance(now); // releases what lapsed first: a gateway back after its lease must learn it
        var alive = _holds.Renew(source, now, lease);
        await Complete(now);
        return new HoldRenewal(alive);
    }

    public async Task<int[]?> Watch(GatewayWatch gateway, string[] add, string[] remove, bool replace)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            await HandOverIfPending();
            var calls = Halves().Select(h => (Half: h, Add: InRange(add, h), Remove: InRange(remove, h)))
                .Where(c => replace || c.Add.Length > 0 || c.Remove.Length > 0) // a renewal clears what the gateway no longer watches there
                .Select(c => Node(c.Half).Watch(gateway, c.Add, c.Remove, replace));
            return Below(await Task.WhenAll(calls));
        }
        _watches.Update(gateway, add, remove, replace);
        return null;
    }

    public async Task<IndexSlice> List(int shard, string? afterUserId, int count, CancellationToken cancellationToken)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            await HandOverIfPending();
            return new IndexSlice([], false, _cuts); // the caller asks the half it needs, as it will from now on
        }
        var now = time.GetUtcNow();
        Advance(now);
        await Complete(now);
        var (users, more) = _entries.Page(Math.Max(shard, _lo), shard < _lo ? null : afterUserId, count);
        return new IndexSlice([.. users], more);
    }

    public async Task<IndexFound> Find(string userId)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            await HandOverIfPending();
            var found = await Node(Half(PresenceKeys.ShardOf(userId, options.Value.Shards))).Find(userId);
            return found with { Cuts = Below([found.Cuts]) };
        }
        // In the shard's own turn no change can be under way: the first try reads.
        TryRead(userId, out var view);
        return new IndexFound(view);
    }

    /// <summary>
    /// <see cref="Find"/> for a caller on any thread. True with the user as others see it while listed here (online,
    /// visible), or with null when it is not (the user's grain knows); false when this activation cannot say (it is
    /// going away, or the entry kept changing under the reader): the caller then calls the shard.
    /// </summary>
    internal bool TryRead(string userId, out UserPresence? view)
    {
        view = null;
        // Only a user of this node: an entry restored under another shard count must not answer for a user who now
        // lives elsewhere (the user's grain does).
        var answered = !_entries.TryGet(userId, out var entry)
            || entry.Group < _lo || entry.Group >= _hi
            || entry.TryRead(time.GetUtcNow(), out view);
        Interlocked.MemoryBarrier(); // what was read was read before the shard could have started going away
        return answered && !_closed;
    }

    public async Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            await HandOverIfPending();
            var all = await Task.WhenAll(Halves().Select(h => Node(h).ChangesSince(since, cancellationToken)));
            return [.. all.SelectMany(c => c).OrderBy(c => c.At)];
        }
        var now = time.GetUtcNow();
        Advance(now);
        await Complete(now);
        return _log.Since(since);
    }

    /// <summary>Forgets gateways that stopped renewing their watches.</summary>
    public void DropStaleWatches()
    {
        using var turn = Turn();
        _watches.DropStale();
    }

    public async Task Adopt(IndexNodeContent content)
    {
        using var turn = Turn();
        if (_cuts is not null)
        {
            // Split since it last took over this content (a split handed over again after a crash): its halves take it.
            await HandOverIfPending();
            await Task.WhenAll(Halves().Select(h => Node(h).AsReference<IIndexNodeGrain>().Adopt(Part(content, h))));
            return;
        }
        // Whatever this node held came from an earlier, interrupted handing over of the same content: it goes.
        ForgetStored();
        local.Remove(_tenant, _lo, _hi, this);
        Reset();
        var now = time.GetUtcNow();
        foreach (var logged in content.Log.OrderBy(l => l.Sequence))
        {
            _log.Restore(logged);
            _journal?.Put(LogKey(logged.Sequence), logged);
        }
        foreach (var hold in content.Holds)
        {
            _holds.Restore(hold.Source, new HoldLeaseSnapshot { RenewedAt = hold.RenewedAt, Until = hold.Until }, changed: true);
        }
        foreach (var entry in content.Entries)
        {
            _entries.Apply(entry, now, restoring: true);
        }
        _entries.MarkAllDirty();
        foreach (var watched in content.Watches)
        {
            _watches.Update(watched.Gateway, watched.Users, [], replace: false);
        }
        Advance(now);
        await Complete(now);
        local.Add(_tenant, _lo, _hi, this);
        LogAdopted(_shardKey, _entries.Count, _log.Count, _holds.Count);
        await SplitIfFull();
    }

    /// <summary>Splits this node in halves when it holds more users than it should and more than one logical shard; answers its cuts then.</summary>
    private async Task<int[]?> SplitIfFull()
    {
        if (_cuts is not null || _entries.Count <= options.Value.SplitAt || _hi - _lo < 2)
        {
            return null;
        }
        await Split();
        return _cuts;
    }

    /// <summary>
    /// Splits in halves. First the cut is written with the content (refreshes too) in one write, so a node that a crash
    /// stops before its halves took over finds its cut and its content when it comes back, and hands the content over
    /// again (<see cref="HandOver"/>); only then do the halves take their parts, and the content's rows go. Callers
    /// wait meanwhile (the node is not reentrant): none can reach a half before it holds its part.
    /// </summary>
    private async Task Split()
    {
        var count = _entries.Count;
        _cuts = [(_lo + _hi) / 2];
        _handOverPending = true;
        if (_journal is not null)
        {
            _entries.MarkUnsavedDirty();
            _refreshesDue = DateTimeOffset.MaxValue;
            _journal.SetHead(new IndexNodeHead(_cuts));
            await Store();
        }
        await HandOver();
        LogSplit(_shardKey, count, _cuts[0]);
    }

    private Task HandOverIfPending() => _handOverPending ? HandOver() : Task.CompletedTask;

    /// <summary>Gives each half its part of the content (users, log, holds, watches), then holds nothing.</summary>
    private async Task HandOver()
    {
        local.Remove(_tenant, _lo, _hi, this);
        _closed = true; // same-process readers ask the halves from now on
        var content = new IndexNodeContent(
            [.. _entries.All.Select(e => e.ToUpdate())],
            [.. _log.All],
            [.. _holds.All],
            [.. _watches.Export(_ => true).Select(w => new WatchedUsers(w.Gateway, w.Users))]);
        await Task.WhenAll(Halves().Select(h => Node(h).AsReference<IIndexNodeGrain>().Adopt(Part(content, h))));
        ForgetStored();
        Reset();
        _refreshesDue = DateTimeOffset.MaxValue;
        await Store();
        _handOverPending = false;
        Rearm();
    }

    /// <summary>Stages the deletion of every row of what the node holds now (its head stays).</summary>
    private void ForgetStored()
    {
        if (_journal is null)
        {
            return;
        }
        foreach (var entry in _entries.All)
        {
            _journal.Delete(EntryPrefix + entry.UserId);
        }
        _entries.TakeDirty().ToList(); // nothing of theirs is to be written now
        foreach (var logged in _log.All)
        {
            _journal.Delete(LogKey(logged.Sequence));
        }
        foreach (var hold in _holds.All)
        {
            _journal.Delete(HoldPrefix + hold.Source);
        }
    }

    /// <summary>The part of <paramref name="content"/> in <paramref name="half"/>'s logical shards (holds are everyone's).</summary>
    private IndexNodeContent Part(IndexNodeContent content, (int Lo, int Hi) half)
    {
        bool Mine(string userId) => InRange(userId, half);
        return new IndexNodeContent(
            [.. content.Entries.Where(e => Mine(e.UserId))],
            [.. content.Log.Where(l => Mine(l.Change.UserId))],
            content.Holds,
            [.. content.Watches.Select(w => w with { Users = [.. w.Users.Where(Mine)] }).Where(w => w.Users.Length > 0)]);
    }

    /// <summary>The halves (or, for a root carried over from the fixed layout, the one-shard nodes) this node split into.</summary>
    private IEnumerable<(int Lo, int Hi)> Halves()
    {
        var cuts = _cuts!;
        for (var i = 0; i <= cuts.Length; i++)
        {
            yield return (i == 0 ? _lo : cuts[i - 1], i == cuts.Length ? _hi : cuts[i]);
        }
    }

    private (int Lo, int Hi) Half(int shard)
    {
        foreach (var half in Halves())
        {
            if (shard < half.Hi)
            {
                return half;
            }
        }
        return (_cuts![^1], _hi);
    }

    private bool InRange(string userId, (int Lo, int Hi) half)
    {
        var shard = PresenceKeys.ShardOf(userId, options.Value.Shards);
        return shard >= half.Lo && shard < half.Hi;
    }

    private string[] InRange(string[] userIds, (int Lo, int Hi) half) => [.. userIds.Where(u => InRange(u, half))];

    private IPresenceIndexGrain Node((int Lo, int Hi) half) => services.Grains.GetGrain<IPresenceIndexGrain>(PresenceKeys.ShardKey(_tenant, half.Lo, half.Hi));

    /// <summary>The cuts below this node: its own, and those its halves answered.</summary>
    private int[] Below(IEnumerable<int[]?> answered)
    {
        var below = answered.Where(c => c is not null).SelectMany(c => c!).ToList();
        return below.Count == 0 ? _cuts! : [.. _cuts!.Concat(below).Distinct().Order()];
    }

    /// <summary>What is due now: run by the host's timer at the time the node last asked for (<see cref="INodeTimers"/>).</summary>
    internal async Task OnTimer(CancellationToken cancellationToken)
    {
        using var turn = Turn();
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
                _ = services.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(_tenant, entry.UserId)).ReleaseHold(hold.Source, hold.SetBefore);
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
        ArmRefreshWrite(now);
        Rearm();
        if (fresh is not null)
        {
            _watches.Queue(fresh);
            _watches.Send(_tenant, metrics);
        }
    }

    /// <summary>
    /// Sets when the refreshes kept in memory are written, if none was set: refreshes are not worth a write each, they
    /// go together, within the coalescing window of the first (only a node that stores its rows keeps any).
    /// </summary>
    private void ArmRefreshWrite(DateTimeOffset now)
    {
        if (_entries.HasUnsaved && _refreshesDue == DateTimeOffset.MaxValue)
        {
            _refreshesDue = now + storageOptions.Value.RefreshCoalesce;
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
        await _journal.FlushAsync(host);
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
        _asked = due;
        timers.Set(this, due);
        KeepWhileNeeded();
    }

    /// <summary>
    /// Applies a user grain's update at once, on the caller's thread, when the node is active in the caller's process
    /// and the update needs nothing of a turn: no turn under way (nor its awaits), nothing due, no split near, and no
    /// row to write before the caller is answered. True when it was applied, and is then listed for every reader;
    /// false when it must go by a call (<see cref="IndexPublisher"/>), as does a change of a user some gateway watches.
    /// What else the update brings (a change to log, an earlier time for the timer, a first user that keeps the node)
    /// is left for a turn of the node's own: the next one's end, or one queued on its host's scheduler. An update of a
    /// user already listed, with the same status (a heartbeat: most updates), brings nothing else. A node that stores
    /// its rows takes only such heartbeats here (<see cref="ShardEntries.OnlyMovesTimes"/>): their rows are written
    /// with the node's other refreshes, within the coalescing window, as they are when they come by a call; anything
    /// else is written in a turn before its caller hears back.
    /// </summary>
    internal bool TryApplyHere(IndexUpdate update)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_turns > 0 || _closed || !Needed || _cuts is not null || _handOverPending || _asked <= now
                || (_entries.Count >= options.Value.SplitAt && _hi - _lo >= 2)
                // A watched user's change goes by a call: its gateways hear of it before the user grain goes on (to
                // the user's channels, say), as they would from a turn.
                || (_watches.Watches(update.UserId) && _entries.MayLog(update, now))
                // A node that stores its rows takes a heartbeat only while its storage holds what its memory does.
                || (_journal is not null && (_journal.HasFailed || !_entries.OnlyMovesTimes(update, now))))
            {
                return false;
            }
            var count = _entries.Count;
            _entries.Apply(update, now);
            ArmRefreshWrite(now); // as a turn's end would (Complete)
            if (!_settleNeeded && (_log.HasFresh || _entries.Count != count || _entries.EarliestDue < _asked || _refreshesDue < _asked))
            {
                host.GrainContext.Scheduler.QueueAction(SettleQueued); // it runs once the gate is free
                _settleNeeded = true;
            }
            // Until the settle asks the timer for it, a time due earlier refuses updates here like one asked for: past
            // it, the next update goes by a turn, which applies what is due first.
            _asked = Min(_asked, Min(Min(_entries.EarliestDue, _log.NextPruneAt), _refreshesDue));
            return true;
        }
    }

    /// <summary>A turn of the host in this node: updates wait for its end (they go by a call meanwhile).</summary>
    private TurnScope Turn()
    {
        lock (_gate)
        {
            _turns++;
        }
        return new TurnScope(this);
    }

    private void Leave()
    {
        lock (_gate)
        {
            _turns--;
        }
        SettleIfNeeded(inTurn: false);
    }

    private void SettleQueued() => SettleIfNeeded(inTurn: false);

    /// <summary>
    /// Settles updates applied between turns, if any: from a turn of the node's own (<paramref name="inTurn"/>), or
    /// else only while no turn is under way (the last one settles as it ends). Always in the host's context.
    /// </summary>
    private void SettleIfNeeded(bool inTurn)
    {
        List<LoggedChange>? fresh = null;
        lock (_gate)
        {
            if (_settleNeeded && (inTurn || _turns == 0))
            {
                fresh = Settle();
            }
        }
        Tell(fresh);
    }

    /// <summary>
    /// The end of a turn for updates applied between turns: under the gate, in the host's context, no turn under way.
    /// Answers the changes to tell the watching gateways, which the caller sends once it let go of the gate (the
    /// watches are only ever touched in the host's context).
    /// </summary>
    private List<LoggedChange>? Settle()
    {
        _settleNeeded = false;
        if (_closed || _cuts is not null)
        {
            return null;
        }
        var fresh = _log.TakeFresh();
        try
        {
            Rearm();
        }
        catch (Exception error)
        {
            // Never the failure of the turn it ends: the updates stand, and the node's next turn (its timer's, at the latest) re-arms it.
            LogSettleFailed(error, _shardKey);
        }
        return fresh;
    }

    private void Tell(List<LoggedChange>? fresh)
    {
        if (fresh is null)
        {
            return;
        }
        try
        {
            _watches.Queue(fresh);
            _watches.Send(_tenant, metrics);
        }
        catch (Exception error)
        {
            LogSettleFailed(error, _shardKey);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private readonly struct TurnScope(IndexNode node) : IDisposable
    {
        public void Dispose() => node.Leave();
    }

    /// <summary>
    /// Active, whatever the calls, while the shard holds users, changes of the log's window, holds or unwritten
    /// refreshes; otherwise collected when idle like any grain (an unpersisted shard would lose them, a persisted one
    /// would leave its users' timelines without a timer).
    /// </summary>
    private void KeepWhileNeeded()
    {
        // A node that split and does not persist is where its tenant's layout lives: it stays.
        var needed = _entries.Count > 0 || _log.Count > 0 || _holds.Count > 0 || _refreshesDue != DateTimeOffset.MaxValue
            || (_cuts is not null && _journal is null);
        if (needed != Needed)
        {
            Needed = needed;
            neededChanged(this);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Index node {Shard}: could not end the turn of updates applied between its turns (its timer or its watchers' events); its next turn does")]
    private partial void LogSettleFailed(Exception error, string shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index shard {Shard}: could not write its refreshes at deactivation; they read up to one coalescing window early")]
    private partial void LogDeactivationWriteFailed(Exception error, string shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shard {Shard}: restored {Count} online users, {Changes} logged changes and {Holds} stream holds from storage")]
    private partial void LogRestored(string shard, int count, int changes, int holds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shard {Shard}: carried {Count} online users over from its deactivation snapshot")]
    private partial void LogCarriedOver(string shard, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index shards of tenant {Tenant}: stored under the fixed layout of earlier versions; its root now passes calls on to its {Count} one-shard nodes")]
    private partial void LogLayoutCarriedOver(string tenant, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index node {Shard}: split at logical shard {Cut} with {Count} online users")]
    private partial void LogSplit(string shard, int count, int cut);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index node {Shard}: took over {Count} online users, {Changes} logged changes and {Holds} stream holds")]
    private partial void LogAdopted(string shard, int count, int changes, int holds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Index shard {Shard}: {Count} users expired")]
    private partial void LogExpired(string shard, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index shard {Shard}: stream hold {Source} was not renewed in time (its gateway died?); released it from {Count} users")]
    private partial void LogHoldLapsed(string shard, string source, int count);
}
