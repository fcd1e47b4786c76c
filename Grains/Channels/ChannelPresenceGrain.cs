using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Events;
using Presence.Grains.Events;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Grains.Timers;

namespace Presence.Grains.Channels;

/// <summary>
/// Presence and membership of one channel. Reads filter by expiry at the time of the read. While active, a
/// one-shot grain timer removes each entry at its expiry; one reminder per channel (never one per update) backs it
/// up, due at the earliest expiry, so entries that last days are still removed after deactivation or a silo's
/// death. The reminder is re-registered only when an earlier expiry appears or when it fires.
/// Gateways watching the channel are told each change once, whatever the number of their connections.
/// </summary>
[GrainType("presence-channel"), RandomPlacement]
public sealed partial class ChannelPresenceGrain(
    [PersistentState("channel", PresenceStorage.Name)] IPersistentState<ChannelPresenceState> state,
    TimeProvider time,
    IOptions<PresenceExpiryOptions> expiry,
    ILogger<ChannelPresenceGrain> logger) : Grain, IChannelPresenceGrain, IRemindable
{
    private readonly SortedSet<string> _order = new(StringComparer.Ordinal);
    private readonly GatewayWatchers _watchers = new();
    private OneShotTimer? _timer;
    private (string Tenant, string Id)? _key;

    private string Tenant => (_key ??= PresenceKeys.Split(this.GetPrimaryKeyString())).Tenant;
    private string ChannelId => (_key ??= PresenceKeys.Split(this.GetPrimaryKeyString())).Id;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var userId in state.State.Members.Keys)
        {
            _order.Add(userId);
        }
        ArmTimer();
        return Task.CompletedTask;
    }

    public async Task<ChannelMember> SetPresence(ChannelPresenceUpdate update, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var member = GetOrAddMember(update.UserId);
        var before = View(update.UserId, member, now);
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
        if (update.Status is null || expiresAt <= now)
        {
            member.Status = null;
            member.ExpiresAt = null;
        }
        else
        {
            member.Status = update.Status;
            member.ExpiresAt = expiresAt;
        }
        member.LastSeenAt = now;
        await SaveAndReschedule(now, cancellationToken);
        NotifyIfChanged(before, update.UserId, member, now);
        return View(update.UserId, member, now, own: true);
    }

    public Task<ChannelMember> GetMember(string userId, bool own, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return Task.FromResult(state.State.Members.TryGetValue(userId, out var member)
            ? View(userId, member, now, own)
            : new ChannelMember(userId, UserProfile.Empty, PresenceStatus.Offline, null, false));
    }

    public async Task SetHidden(string userId, bool hidden)
    {
        if (!state.State.Members.TryGetValue(userId, out var member) || member.Hidden == hidden)
        {
            return;
        }
        var now = time.GetUtcNow();
        var before = View(userId, member, now);
        member.HiddenLastSeenAt = member.LastSeenAt;
        member.Hidden = hidden;
        await state.WriteOrDeactivate(this, CancellationToken.None);
        NotifyIfChanged(before, userId, member, now);
    }

    public Task<string[]> Watch(GatewayWatch gateway)
    {
        _watchers.Renew(gateway);
        // Watched channels stay active, so changes keep reaching the gateways between their renewals.
        DelayDeactivation(GatewayWatch.Lifetime);
        var subscribers = new List<string>();
        foreach (var (userId, member) in state.State.Members)
        {
            if (member.SubscribedAt is not null)
            {
                subscribers.Add(userId);
            }
        }
        return Task.FromResult(subscribers.ToArray());
    }

    public Task Unwatch(Guid gateway)
    {
        _watchers.Remove(gateway);
        return Task.CompletedTask;
    }

    public Task<ChannelPage> ListPresent(string? afterUserId, int count, CancellationToken cancellationToken)
        => Task.FromResult(Page(afterUserId, count, (m, now) => m.IsVisiblyPresentAt(now)));

    public Task<ChannelPage> ListSubscribers(string? afterUserId, int count, CancellationToken cancellationToken)
        => Task.FromResult(Page(afterUserId, count, (m, _) => m.SubscribedAt is not null));

    public async Task<ChannelInfo> Subscribe(string userId, UserProfile? profile, CancellationToken cancellationToken)
    {
        var member = GetOrAddMember(userId);
        var joined = member.SubscribedAt is null;
        var changed = joined || (profile is not null && profile != member.Profile);
        var now = time.GetUtcNow();
        member.SubscribedAt ??= now;
        if (profile is not null)
        {
            member.Profile = profile;
        }
        if (changed)
        {
            await state.WriteOrDeactivate(this, cancellationToken);
        }
        if (joined)
        {
            Notify([new ChannelChange(ChannelChangeKind.Joined, View(userId, member, now), now)]);
        }
        return Info(userId);
    }

    public async Task<ChannelInfo> Unsubscribe(string userId, CancellationToken cancellationToken)
    {
        if (state.State.Members.TryGetValue(userId, out var member) && member.SubscribedAt is not null)
        {
            member.SubscribedAt = null;
            var now = time.GetUtcNow();
            var left = View(userId, member, now);
            ForgetIfEmpty(userId, member);
            await state.WriteOrDeactivate(this, cancellationToken);
            Notify([new ChannelChange(ChannelChangeKind.Left, left, now)]);
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
        LogReminderFired(ChannelId);
        // It fired, so it exists, whatever the stored due time says (a failed write may have lost it).
        state.State.ReminderDue ??= now;
        RemoveExpired(now);
        await SaveAndReschedule(now, CancellationToken.None);
    }

    private async Task OnTimer(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (RemoveExpired(now) > 0)
        {
            await SaveAndReschedule(now, cancellationToken);
        }
        else
        {
            ArmTimer();
        }
    }

    private int RemoveExpired(DateTimeOffset now)
    {
        var removed = 0;
        List<ChannelChange>? changes = null;
        foreach (var (userId, member) in state.State.Members)
        {
            if (member.Status is not null && member.ExpiresAt <= now)
            {
                var wasVisible = !member.Hidden;
                var at = member.ExpiresAt ?? now;
                member.Status = null;
                member.ExpiresAt = null;
                removed++;
                if (wasVisible)
                {
                    (changes ??= []).Add(new ChannelChange(ChannelChangeKind.Presence, View(userId, member, now), at));
                }
            }
        }
        if (changes is not null)
        {
            Notify([.. changes]);
        }
        return removed;
    }

    private void NotifyIfChanged(ChannelMember before, string userId, ChannelMemberState member, DateTimeOffset now)
    {
        var after = View(userId, member, now);
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
            _ = gateway.OnChannelChanges(Tenant, ChannelId, changes);
        }
    }

    /// <summary>Writes the state, with the timer and the one expiry reminder in step with the earliest expiry.</summary>
    private async Task SaveAndReschedule(DateTimeOffset now, CancellationToken cancellationToken)
    {
        state.State.ReminderDue = await ExpiryReminder.Sync(this, EarliestExpiry(), state.State.ReminderDue, now);
        await state.WriteOrDeactivate(this, cancellationToken);
        ArmTimer();
    }

    private void ArmTimer()
    {
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: false);
        _timer.Set(EarliestExpiry() ?? DateTimeOffset.MaxValue);
    }

    private DateTimeOffset? EarliestExpiry()
    {
        DateTimeOffset? earliest = null;
        foreach (var member in state.State.Members.Values)
        {
            if (member.Status is not null && member.ExpiresAt is { } at && (earliest is null || at < earliest))
            {
                earliest = at;
            }
        }
        return earliest;
    }

    private ChannelPage Page(string? afterUserId, int count, Func<ChannelMemberState, DateTimeOffset, bool> include)
    {
        var now = time.GetUtcNow();
        var members = new List<ChannelMember>(Math.Min(count, 64));
        var view = afterUserId is null ? _order : _order.GetViewBetween(afterUserId, "\uffff");
        foreach (var userId in view)
        {
            if (userId == afterUserId)
            {
                continue;
            }
            var member = state.State.Members[userId];
            if (!include(member, now))
            {
                continue;
            }
            if (members.Count == count)
            {
                return new ChannelPage([.. members], true);
            }
            members.Add(View(userId, member, now));
        }
        return new ChannelPage([.. members], false);
    }

    private ChannelMemberState GetOrAddMember(string userId)
    {
        if (!state.State.Members.TryGetValue(userId, out var member))
        {
            state.State.Members[userId] = member = new ChannelMemberState();
            _order.Add(userId);
        }
        return member;
    }

    private void ForgetIfEmpty(string userId, ChannelMemberState member)
    {
        if (member.SubscribedAt is null && member.Status is null && member.LastSeenAt is null)
        {
            state.State.Members.Remove(userId);
            _order.Remove(userId);
        }
    }

    private ChannelInfo Info(string userId)
    {
        var subscribers = state.State.Members.Values.Count(m => m.SubscribedAt is not null);
        var you = state.State.Members.TryGetValue(userId, out var member) && member.SubscribedAt is not null;
        return new ChannelInfo(ChannelId, subscribers, you);
    }

    /// <summary>The member as others see it (a hidden one offline, last seen when hidden), or as itself does.</summary>
    private static ChannelMember View(string userId, ChannelMemberState member, DateTimeOffset now, bool own = false) => own || !member.Hidden
        ? new(userId, member.Profile, member.IsPresentAt(now) ? member.Status! : PresenceStatus.Offline, member.LastSeenAt,
            member.SubscribedAt is not null, Hidden: own && member.Hidden)
        : new(userId, member.Profile, PresenceStatus.Offline, member.HiddenLastSeenAt, member.SubscribedAt is not null);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Expiry reminder of channel {ChannelId} fired")]
    private partial void LogReminderFired(string channelId);
}
