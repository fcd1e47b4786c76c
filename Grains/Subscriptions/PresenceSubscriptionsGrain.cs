using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Grains.Timers;
using Presence.Subscriptions;

namespace Presence.Grains.Subscriptions;

/// <summary>
/// One user's presence subscriptions. Reads skip expired ones at the time of the read; a one-shot timer removes them
/// while the grain is active and the grain's single expiry reminder does after deactivation: no reminder per
/// subscription.
/// </summary>
[GrainType("presence-subscriptions"), RandomPlacement]
public sealed class PresenceSubscriptionsGrain(
    [PersistentState("subscriptions", PresenceStorage.Name)] IPersistentState<SubscriptionsState> state,
    TimeProvider time) : Grain, IPresenceSubscriptionsGrain, IRemindable
{
    private OneShotTimer? _timer;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ArmTimer();
        return Task.CompletedTask;
    }

    public async Task<SubscribeResult> Subscribe(string[] userIds, TimeSpan duration, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        RemoveExpired(now);
        var targets = state.State.Targets;
        var added = userIds.Distinct(StringComparer.Ordinal).Count(id => !targets.ContainsKey(id));
        if (targets.Count + added > IPresenceSubscriptionsGrain.MaxSubscriptions)
        {
            return new SubscribeResult(null, targets.Count);
        }
        var expiry = now + duration;
        foreach (var id in userIds)
        {
            targets[id] = expiry;
        }
        await Save(now, cancellationToken);
        return new SubscribeResult(expiry, targets.Count);
    }

    public async Task Unsubscribe(string[] userIds, CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var id in userIds)
        {
            removed += state.State.Targets.Remove(id) ? 1 : 0;
        }
        if (removed > 0)
        {
            await Save(time.GetUtcNow(), cancellationToken);
        }
    }

    public Task<SubscriptionPage> List(int skip, int take, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var live = state.State.Targets.Where(t => t.Value > now).OrderBy(t => t.Key, StringComparer.Ordinal).ToArray();
        var page = live.Skip(skip).Take(take).Select(t => new Subscription(t.Key, t.Value)).ToArray();
        if (state.State.Targets.Count == 0)
        {
            // Every realtime stream asks its user's subscriptions, most users have none: an activation holding
            // nothing would only cost memory per open stream.
            this.DeactivateOnIdle();
        }
        return Task.FromResult(new SubscriptionPage(live.Length, page));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        var now = time.GetUtcNow();
        // It fired, so it exists, whatever the stored due time says (a failed write may have lost it).
        state.State.ReminderDue ??= now;
        RemoveExpired(now);
        await Save(now, CancellationToken.None);
    }

    private async Task OnTimer(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (RemoveExpired(now) > 0)
        {
            await Save(now, cancellationToken);
        }
        else
        {
            ArmTimer();
        }
    }

    private int RemoveExpired(DateTimeOffset now)
    {
        var removed = 0;
        foreach (var (id, expiry) in state.State.Targets)
        {
            if (expiry <= now && state.State.Targets.Remove(id))
            {
                removed++;
            }
        }
        return removed;
    }

    private async Task Save(DateTimeOffset now, CancellationToken cancellationToken)
    {
        state.State.ReminderDue = await ExpiryReminder.Sync(this, Earliest(), state.State.ReminderDue, now);
        await state.WriteOrDeactivate(this, cancellationToken);
        ArmTimer();
    }

    private void ArmTimer()
    {
        _timer ??= new OneShotTimer(this, OnTimer, time, keepAlive: false);
        _timer.Set(Earliest() ?? DateTimeOffset.MaxValue);
    }

    private DateTimeOffset? Earliest() => state.State.Targets.Count == 0 ? null : state.State.Targets.Values.Min();
}

[GenerateSerializer, Alias("presence.SubscriptionsState")]
public sealed class SubscriptionsState
{
    /// <summary>Followed user id and when that subscription expires.</summary>
    [Id(0)] public Dictionary<string, DateTimeOffset> Targets { get; set; } = [];

    [Id(1)] public DateTimeOffset? ReminderDue { get; set; }
}
