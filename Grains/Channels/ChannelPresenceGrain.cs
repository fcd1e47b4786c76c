using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Events;
using Presence.Grains.Events;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Grains.Timers;

namespace Presence.Grains.Channels;

/// <summary>
/// Presence and membership of one channel, a thin coordinator over <see cref="ChannelMembers"/> (what is in memory)
/// and the channel's collection in storage (a row per member, written when that member changes: a join costs the
/// same in a channel of a million as in one of ten). Reads filter by expiry at the time of the read. While active, a
/// one-shot grain timer applies what is due; one reminder per channel (never one per member) backs it, due at the
/// earliest due time, so expirations and clean-ups still happen after deactivation or a silo's death.
/// Gateways watching the channel are told each change once, whatever the number of their connections; joins and
/// leaves carry the membership sequence, so a gateway knows when it missed one and only then asks for the whole set.
/// Reentrant, for group commit: a call changes memory in one synchronous step, then waits for the write that carries
/// it, while the next calls make their changes for the next write (<see cref="CollectionJournal.CommitAsync"/>). No
/// one is told of a change (the caller, watchers, a reader) before it is written.
/// </summary>
[GrainType("presence-channel"), RandomPlacement, Reentrant]
public sealed partial class ChannelPresenceGrain(
    CollectionStorage storage,
    TimeProvider time,
    IOptions<PresenceExpiryOptions> expiry,
    IOptions<PresenceChannelOptions> options,
    ILogger<ChannelPresenceGrain> logger) : Grain, IChannelPresenceGrain, IRemindable
{
    private readonly ChannelMembers _members = new(options.Value.LastSeenRetention);
    private readonly GatewayWatchers _watchers = new();
    private ChannelHead _head = new();
    private CollectionJournal _journal = null!;
    private OneShotTimer? _timer;
    private string _tenant = "";
    private string _channelId = "";
    // Kept so the touching loop in ToPage is not optimized away.
    private int _touched;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_tenant, _channelId) = PresenceKeys.Split(this.GetPrimaryKeyString());
        _journal = storage.Open(CollectionKind.Channel, this.GetPrimaryKeyString());
        var stored = await _journal.LoadAsync(cancellationToken);
        var now = time.GetUtcNow();
        if (stored.Head is { } head)
        {
            _head = _journal.Read<ChannelHead>(head);
        }
        foreach (var (userId, payload) in stored.Items)
        {
            var member = _journal.Read<ChannelMemberState>(payload);
            member.Key = userId;
            _members.Add(member);
            if (!_members.Refile(member, now))
            {
                _journal.Delete(userId); // its retention ended while the channel was not active
            }
        }
        if (!_journal.Exists)
        {
            await CarryOverLegacy(now, cancellationToken);
        }
        if (_members.EarliestDue is var due && due != DateTimeOffset.MaxValue && (_head.ReminderDue is null || due < _head.ReminderDue))
        {
            // A write that carried an earlier due time did not get to register the reminder before the activation ended.
            await Commit(forceReminderSync: true);
        }
        ArmTimer();
    }

    /// <summary>A channel stored as one blob by an earlier version: its members become rows, then the blob goes.</summary>
    private async Task CarryOverLegacy(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var legacy = new LegacyState<ChannelPresenceState>(this, "channel");
        if (await legacy.ReadAsync() is not { } old)
        {
            return;
        }
        foreach (var (userId, member) in old.Members)
        {
            member.Key = userId;
            _members.Add(member);
            Stage(member, now);
        }
        _head.ReminderDue = old.ReminderDue;
        _journal.SetHead(_head);
        await _journal.FlushAsync(this);
        await legacy.ClearAsync();
        LogCarriedOver(_channelId, old.Members.Count);
    }

    public async Task<ChannelMember> SetPresence(ChannelPresenceUpdate update, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var member = Member(update.UserId);
        var before = View(member, now);
        if (update.Profile is { } profile)
        {
            member.Profile = profile;
        }
        if (update.Hidden != member.Hidden)
        {
            member.HiddenLastSeenAt = member.LastSeenAt;
            member.Hidden = update.Hidden;
        }
        var expiresAt = update.ExpiresAt ?? now + expiry.Value.Default;
        if (expiresAt > now + expiry.Value.ChannelMax)
        {
            expiresAt = now + expiry.Value.ChannelMax;
        }
        var ends = update.Status is not null && expiresAt > now;
        (member.Status, member.ExpiresAt) = (ends ? update.Status : null, ends ? expiresAt : null);
        member.LastSeenAt = now;
        Stage(member, now);
        var change = Change(before, member, now);
        var own = View(member, now, own: true);
        await Commit();
        Notify(change);
        return own;
    }

    public Task<ChannelMember> GetMember(string userId, bool own, CancellationToken cancellationToken)
        => Written(_members.Find(userId) is { } member
            ? View(member, time.GetUtcNow(), own)
            : new ChannelMember(userId, UserProfile.Empty, PresenceStatus.Offline, null, false));

    public async Task SetHidden(string userId, bool hidden)
    {
        if (_members.Find(userId) is not { } member || member.Hidden == hidden)
        {
            return;
        }
        var now = time.GetUtcNow();
        var before = View(member, now);
        member.HiddenLastSeenAt = member.LastSeenAt;
        member.Hidden = hidden;
        Stage(member, now);
        var change = Change(before, member, now);
        await Commit();
        Notify(change);
    }

    public Task<ChannelWatchResult> Watch(GatewayWatch gateway, long? knownSequence)
    {
        // Registered in the same step as the set is taken: every join or leave after it reaches this gateway as a
        // change with a later sequence number (possibly before this answer does; the gateway holds those back).
        _watchers.Renew(gateway);
        // Watched channels stay active, so changes keep reaching the gateways between their renewals.
        DelayDeactivation(GatewayWatch.Lifetime);
        var subscribers = knownSequence == _head.Sequence ? null : _members.SubscriberIds();
        return Written(new ChannelWatchResult(_head.Sequence, subscribers));
    }

    public async Task<string[]> WatchAll(GatewayWatch gateway) => (await Watch(gateway, null)).Subscribers!;

    public Task Unwatch(Guid gateway)
    {
        _watchers.Remove(gateway);
        return Task.CompletedTask;
    }

    public Task<ChannelPage> ListPresent(string? afterUserId, int count, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return Written(ToPage(_members.PresentAfter(afterUserId, count, now), now));
    }

    public Task<ChannelPage> ListSubscribers(string? afterUserId, int count, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return Written(ToPage(_members.SubscribersAfter(afterUserId, count), now));
    }

    public async Task<ChannelInfo> Subscribe(string userId, UserProfile? profile, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var member = Member(userId);
        var joined = member.SubscribedAt is null;
        var changed = joined || (profile is not null && profile != member.Profile);
        member.SubscribedAt ??= now;
        if (profile is not null)
        {
            member.Profile = profile;
        }
        ChannelChange? join = null;
        if (changed)
        {
            Stage(member, now);
            if (joined)
            {
                _head.Sequence++;
                _journal.SetHead(_head);
                join = new ChannelChange(ChannelChangeKind.Joined, View(member, now), now, _head.Sequence);
            }
        }
        var info = Info(userId);
        await Commit();
        Notify(join);
        return info;
    }

    public async Task<ChannelInfo> Unsubscribe(string userId, CancellationToken cancellationToken)
    {
        ChannelChange? leave = null;
        if (_members.Find(userId) is { SubscribedAt: not null } member)
        {
            var now = time.GetUtcNow();
            member.SubscribedAt = null;
            var left = View(member, now);
            Stage(member, now);
            _head.Sequence++;
            _journal.SetHead(_head);
            leave = new ChannelChange(ChannelChangeKind.Left, left, now, _head.Sequence);
        }
        var info = Info(userId);
        await Commit();
        Notify(leave);
        return info;
    }

    public Task<ChannelInfo> GetInfo(string userId, CancellationToken cancellationToken) => Written(Info(userId));

    /// <summary>
    /// An answer taken from memory now, given once everything it may show is written: a change still being written
    /// (another call's, in this reentrant grain) is shown only if it was stored. Taken first, so it never shows what
    /// is staged after it and not yet written.
    /// </summary>
    private async Task<T> Written<T>(T answer)
    {
        await _journal.WhenWritten();
        return answer;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ExpiryReminder.Name)
        {
            return;
        }
        var now = time.GetUtcNow();
        LogReminderFired(_channelId);
        // It fired, so it exists, whatever the stored due time says (a failed write may have lost it).
        _head.ReminderDue ??= now;
        var expired = ApplyDue(now);
        await Commit(forceReminderSync: true);
        Notify(expired);
    }

    private async Task OnTimer(CancellationToken cancellationToken)
    {
        var expired = ApplyDue(time.GetUtcNow());
        await Commit();
        Notify(expired);
    }

    /// <summary>Ends the presences that expired and forgets members past their retention; returns what watchers should hear of.</summary>
    private ChannelChange[]? ApplyDue(DateTimeOffset now)
    {
        List<ChannelChange>? changes = null;
        foreach (var member in _members.TakeDue(now))
        {
            if (member.Status is not null && member.ExpiresAt <= now)
            {
                var at = member.ExpiresAt ?? now;
                var wasVisible = !member.Hidden;
                member.Status = null;
                member.ExpiresAt = null;
                if (wasVisible)
                {
                    (changes ??= []).Add(new ChannelChange(ChannelChangeKind.Presence, View(member, now), at));
                }
            }
            Stage(member, now);
        }
        // Each change carries the count once all of them are applied.
        return changes?.Select(c => c with { Present = _members.Present }).ToArray();
    }

    /// <summary>The member, added if new and the channel has room for it.</summary>
    private ChannelMemberState Member(string userId)
    {
        if (_members.Find(userId) is { } member)
        {
            return member;
        }
        var max = options.Value.MaxMembers;
        return _members.Count < max ? _members.GetOrAdd(userId)
            : throw new ChannelFullException($"channel {_channelId} has reached its limit of {max:N0} members");
    }

    /// <summary>Files a changed member and stages its row: written, or deleted when nothing is left to keep of it.</summary>
    private void Stage(ChannelMemberState member, DateTimeOffset now)
    {
        if (_members.Refile(member, now))
        {
            _journal.Put(member.Key, member);
        }
        else
        {
            _journal.Delete(member.Key);
        }
    }

    /// <summary>Waits for the write that carries this call's changes (and those of the calls around it).</summary>
    private Task Commit(bool forceReminderSync = false)
    {
        ArmTimer();
        if (forceReminderSync)
        {
            _journal.SetHead(_head); // something to write, so the reminder is brought in line before it
        }
        return _journal.CommitAsync(this, SyncReminder);
    }

    /// <summary>
    /// Before each write: the one expiry reminder in step with the earliest due time, its due time staged with the write.
    /// Again if calls that interleaved with the registration brought an earlier due time: the write carries theirs too.
    /// </summary>
    private async Task SyncReminder()
    {
        do
        {
            var due = _members.EarliestDue;
            var reminder = await ExpiryReminder.Sync(this, due == DateTimeOffset.MaxValue ? null : due, _head.ReminderDue, time.GetUtcNow());
            if (reminder != _head.ReminderDue)
            {
                _head.ReminderDue = reminder;
                _journal.SetHead(_head);
            }
        }
        while (_members.EarliestDue < (_head.ReminderDue ?? DateTimeOffset.MaxValue));
    }

    private void ArmTimer()
    {
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: false);
        _timer.Set(_members.EarliestDue);
    }

    /// <summary>The change others see, if the member's status as they see it changed.</summary>
    private ChannelChange? Change(ChannelMember before, ChannelMemberState member, DateTimeOffset now)
    {
        var after = View(member, now);
        return after.Status != before.Status ? new ChannelChange(ChannelChangeKind.Presence, after, now, Present: _members.Present) : null;
    }

    private void Notify(ChannelChange? change)
    {
        if (change is not null)
        {
            Notify([change]);
        }
    }

    /// <summary>One one-way call per watching gateway, whatever the number of its connections.</summary>
    private void Notify(ChannelChange[]? changes)
    {
        if (changes is null || _watchers.Count == 0)
        {
            return;
        }
        foreach (var gateway in _watchers.Live())
        {
            _ = gateway.OnChannelChanges(_tenant, _channelId, changes);
        }
    }

    private ChannelPage ToPage((List<ChannelMemberState> Page, bool More) found, DateTimeOffset now)
    {
        // The members of a page of a large channel lie scattered over the heap. Touching each and its profile in a loop
        // whose loads do not wait on one another lets the processor fetch them together, instead of one cache miss
        // after another as the views below are built.
        var touched = 0;
        foreach (var member in found.Page)
        {
            touched += member.Profile.Username?.Length ?? 0;
        }
        _touched = touched;
        var members = new ChannelMember[found.Page.Count];
        for (var i = 0; i < members.Length; i++)
        {
            members[i] = View(found.Page[i], now);
        }
        return new ChannelPage(members, found.More);
    }

    private ChannelInfo Info(string userId)
        => new(_channelId, _members.Subscribers, _members.Find(userId) is { SubscribedAt: not null }, _members.Present);

    /// <summary>The member as others see it (a hidden one offline, last seen when hidden), or as itself does.</summary>
    private static ChannelMember View(ChannelMemberState member, DateTimeOffset now, bool own = false) => own || !member.Hidden
        ? new(member.Key, member.Profile, member.IsPresentAt(now) ? member.Status! : PresenceStatus.Offline, member.LastSeenAt,
            member.SubscribedAt is not null, Hidden: own && member.Hidden)
        : new(member.Key, member.Profile, PresenceStatus.Offline, member.HiddenLastSeenAt, member.SubscribedAt is not null);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Expiry reminder of channel {ChannelId} fired")]
    private partial void LogReminderFired(string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Channel {ChannelId}: carried {Count} members over from the single-blob format")]
    private partial void LogCarriedOver(string channelId, int count);
}
