using Presence.Grains.Storage;
using Presence.Grains.Timers;
using Presence.Subscriptions;

namespace Presence.Grains.Subscriptions;

/// <summary>
/// One user's presence subscriptions, stored by change: a row per followed user with its expiry, so subscribing to
/// one more user writes that one row, not the whole list. Reads skip expired ones at the time of the read; a one-shot
/// timer removes them while the grain is active and the grain's single expiry reminder does after deactivation: no
/// reminder per subscription.
/// </summary>
[GrainType("presence-subscriptions"), RandomPlacement]
public sealed partial class PresenceSubscriptionsGrain(
    CollectionStorage storage,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptions<Hosting.PresenceSubscriptionOptions> options,
    ILogger<PresenceSubscriptionsGrain> logger) : Grain, IPresenceSubscriptionsGrain, IRemindable, ILetGo
{
    private readonly Dictionary<string, DateTimeOffset> _targets = new(StringComparer.Ordinal);
    private SubscriptionsHead _head = new();
    private CollectionJournal _journal = null!;
    private OneShotTimer? _timer;
    private LetGoLater? _letGo;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _journal = storage.Open(CollectionKind.Subscriptions, this.GetPrimaryKeyString());
        var stored = await _journal.LoadAsync(cancellationToken);
        if (stored.Head is { } head)
        {
            _head = _journal.Read<SubscriptionsHead>(head);
        }
        foreach (var (userId, payload) in stored.Items)
        {
            _targets[userId] = _journal.Read<DateTimeOffset>(payload);
        }
        if (!_journal.Exists)
        {
            await CarryOverLegacy(cancellationToken);
        }
        ArmTimer();
    }

    /// <summary>Subscriptions stored as one blob by an earlier version: they become rows, then the blob goes.</summary>
    private async Task CarryOverLegacy(CancellationToken cancellationToken)
    {
        var legacy = new LegacyState<SubscriptionsState>(this, "subscriptions");
        if (await legacy.ReadAsync() is not { } old)
        {
            return;
        }
        foreach (var (userId, expiry) in old.Targets)
        {
            _targets[userId] = expiry;
            _journal.Put(userId, expiry);
        }
        _head.ReminderDue = old.ReminderDue;
        _journal.SetHead(_head);
        await _journal.FlushAsync(this);
        await legacy.ClearAsync();
        LogCarriedOver(this.GetPrimaryKeyString(), old.Targets.Count);
    }

    public async Task<SubscribeResult> Subscribe(string[] userIds, TimeSpan duration, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        RemoveExpired(now);
        var added = userIds.Distinct(StringComparer.Ordinal).Count(id => !_targets.ContainsKey(id));
        var limit = options.Value.Max;
        if (_targets.Count + added > limit)
        {
            await Save(); // the expired ones removed above
            return new SubscribeResult(null, _targets.Count, limit);
        }
        var expiry = now + duration;
        foreach (var id in userIds)
        {
            _targets[id] = expiry;
            _journal.Put(id, expiry);
        }
        await Save();
        return new SubscribeResult(expiry, _targets.Count, limit);
    }

    public async Task Unsubscribe(string[] userIds, CancellationToken cancellationToken)
    {
        foreach (var id in userIds)
        {
            if (_targets.Remove(id))
            {
                _journal.Delete(id);
            }
        }
        await Save();
    }

    public Task<SubscriptionPage> List(int skip, int take, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var live = _targets.Where(t => t.Value > now).OrderBy(t => t.Key, StringComparer.Ordinal).ToArray();
        var page = live.Skip(skip).Take(take).Select(t => new Subscription(t.Key, t.Value)).ToArray();
        if (_targets.Count == 0)
        {
            // Every realtime stream asks its user's subscriptions, most users have none: an activation holding
            // nothing would only cost memory per open stream.
            (_letGo ??= new LetGoLater(this, TimeSpan.FromSeconds(1))).Ask();
        }
        return Task.FromResult(new SubscriptionPage(live.Length, page));
    }

    Task ILetGo.LetGo()
    {
        this.DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        var now = time.GetUtcNow();
        // It fired, so it exists, whatever the stored due time says (a failed write may have lost it).
        _head.ReminderDue ??= now;
        _journal.SetHead(_head); // something to write, so the reminder is brought in line before it
        RemoveExpired(now);
        await Save();
    }

    private async Task OnTimer(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        RemoveExpired(now);
        await Save();
    }

    private void RemoveExpired(DateTimeOffset now)
    {
        foreach (var (id, expiry) in _targets)
        {
            if (expiry <= now && _targets.Remove(id))
            {
                _journal.Delete(id);
            }
        }
    }

    /// <summary>Writes what changed, with the timer and the one expiry reminder in step with the earliest expiry.</summary>
    private Task Save()
    {
        ArmTimer();
        return _journal.CommitAsync(this, SyncReminder);
    }

    private async Task SyncReminder()
    {
        var reminder = await ExpiryReminder.Sync(this, Earliest(), _head.ReminderDue, time.GetUtcNow());
        if (reminder != _head.ReminderDue)
        {
            _head.ReminderDue = reminder;
            _journal.SetHead(_head);
        }
    }

    private void ArmTimer()
    {
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: false);
        _timer.Set(Earliest() ?? DateTimeOffset.MaxValue);
    }

    private DateTimeOffset? Earliest() => _targets.Count == 0 ? null : _targets.Values.Min();

    [LoggerMessage(Level = LogLevel.Information, Message = "Subscriptions of {Subscriber}: carried {Count} over from the single-blob format")]
    private partial void LogCarriedOver(string subscriber, int count);
}

/// <summary>What a subscriber keeps besides its subscriptions: when its expiry reminder is due.</summary>
[GenerateSerializer, Alias("presence.SubscriptionsHead")]
public sealed class SubscriptionsHead
{
    [Id(0)] public DateTimeOffset? ReminderDue { get; set; }
}

/// <summary>
/// Subscriptions as they were stored before they were stored by change: the whole map in one grain-state blob. Read
/// once and carried over by the subscriber's first activation, then cleared.
/// </summary>
[GenerateSerializer, Alias("presence.SubscriptionsState")]
public sealed class SubscriptionsState
{
    /// <summary>Followed user id and when that subscription expires.</summary>
    [Id(0)] public Dictionary<string, DateTimeOffset> Targets { get; set; } = [];

    [Id(1)] public DateTimeOffset? ReminderDue { get; set; }
}
