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
/// </summary>
[GrainType("presence-channel"), RandomPlacement]
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
        await _journal.FlushAsync(this, cancellationToken);
        await legacy.ClearAsync();
        LogCarriedOver(_channelId, old.Members.Count);
    }

    public async Task<ChannelMember> SetPresence(ChannelPresenceUpdate update, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var member = _members.GetOrAdd(update.UserId);
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
        await Save(now, cancellationToken);
        NotifyIfChanged(before, member, now);
        return View(member, now, own: true);
    }

    public Task<ChannelMember> GetMember(string userId, bool own, CancellationToken cancellationToken)
        => Task.FromResult(_members.Find(userId) is { } member
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
        await Save(now, CancellationToken.None);
        NotifyIfChanged(before, member, now);
    }

    public Task<ChannelWatchResult> Watch(GatewayWatch gateway, long? knownSequence)
    {
        _watchers.Renew(gateway);
        // Watched channels stay active, so changes keep reaching the gateways between their renewals.
        DelayDeactivation(GatewayWatch.Lifetime);
        var subscribers = knownSequence == _head.Sequence ? null : _members.SubscriberIds();
        return Task.FromResult(new ChannelWatchResult(_head.Sequence, subscribers));
    }

    public Task Unwatch(Guid gateway)
    {
        _watchers.Remove(gateway);
        return Task.CompletedTask;
    }

    public Task<ChannelPage> ListPresent(string? afterUserId, int count, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return Task.FromResult(ToPage(_members.PresentAfter(afterUserId, count, now), now));
    }

    public Task<ChannelPage> ListSubscribers(string? afterUserId, int count, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return Task.FromResult(ToPage(_members.SubscribersAfter(afterUserId, count), now));
    }

    public async Task<ChannelInfo> Subscribe(string userId, UserProfile? profile, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var member = _members.GetOrAdd(userId);
        var joined = member.SubscribedAt is null;
        var changed = joined || (profile is not null && profile != member.Profile);
        member.SubscribedAt ??= now;
        if (profile is not null)
        {
            member.Profile = profile;
        }
        if (changed)
        {
            Stage(member, now);
            if (joined)
            {
                _head.Sequence++;
                _journal.SetHead(_head);
            }
            await Save(now, cancellationToken);
        }
        if (joined)
        {
            Notify([new ChannelChange(ChannelChangeKind.Joined, View(member, now), now, _head.Sequence)]);
        }
        return Info(userId);
    }

    public async Task<ChannelInfo> Unsubscribe(string userId, CancellationToken cancellationToken)
    {
        if (_members.Find(userId) is { SubscribedAt: not null } member)
        {
            var now = time.GetUtcNow();
            member.SubscribedAt = null;
            var left = View(member, now);
            Stage(member, now);
            _head.Sequence++;
            _journal.SetHead(_head);
            await Save(now, cancellationToken);
            Notify([new ChannelChange(ChannelChangeKind.Left, left, now, _head.Sequence)]);
        }
        return Info(userId);
    }

    public Task<ChannelInfo> GetInfo(string userId, CancellationToken cancellationToken) => Task.FromResult(Info(userId));

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
        ApplyDue(now);
        await Save(now, CancellationToken.None);
    }

    private async Task OnTimer(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ApplyDue(now);
        await Save(now, cancellationToken);
    }

    /// <summary>Ends the presences that expired and forgets members past their retention; watchers hear of the former.</summary>
    private void ApplyDue(DateTimeOffset now)
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
        if (changes is not null)
        {
            Notify([.. changes]);
        }
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

    /// <summary>Writes what changed, with the timer and the one expiry reminder in step with the earliest due time.</summary>
    private async Task Save(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var due = _members.EarliestDue;
        var reminder = await ExpiryReminder.Sync(this, due == DateTimeOffset.MaxValue ? null : due, _head.ReminderDue, now);
        if (reminder != _head.ReminderDue)
        {
            _head.ReminderDue = reminder;
            _journal.SetHead(_head);
        }
        await _journal.FlushAsync(this, cancellationToken);
        ArmTimer();
    }

    private void ArmTimer()
    {
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: false);
        _timer.Set(_members.EarliestDue);
    }

    private void NotifyIfChanged(ChannelMember before, ChannelMemberState member, DateTimeOffset now)
    {
        var after = View(member, now);
        if (after.Status != before.Status)
        {
            Notify([new ChannelChange(ChannelChangeKind.Presence, after, now)]);
        }
    }

    /// <summary>One one-way call per watching gateway, whatever the number of its connections.</summary>
    private void Notify(ChannelChange[] changes)
    {
        if (_watchers.Count == 0)
        {
            return;
        }
        foreach (var gateway in _watchers.Live())
        {
            _ = gateway.OnChannelChanges(_tenant, _channelId, changes);
        }
    }

    private static ChannelPage ToPage((List<ChannelMemberState> Page, bool More) found, DateTimeOffset now)
    {
        var members = new ChannelMember[found.Page.Count];
        for (var i = 0; i < members.Length; i++)
        {
            members[i] = View(found.Page[i], now);
        }
        return new ChannelPage(members, found.More);
    }

    private ChannelInfo Info(string userId)
        => new(_channelId, _members.Subscribers, _members.Find(userId) is { SubscribedAt: not null });

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
