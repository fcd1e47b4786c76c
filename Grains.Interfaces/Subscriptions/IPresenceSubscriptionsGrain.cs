namespace Presence.Subscriptions;

/// <summary>
/// The users whose presence one user follows, each until its own expiry (at most 30 days).
/// Key: <see cref="Model.PresenceKeys.Of"/>(tenant, subscriberId).
/// </summary>
[Alias("presence.IPresenceSubscriptionsGrain")]
public interface IPresenceSubscriptionsGrain : IGrainWithStringKey
{
    /// <summary>Subscribes (or re-subscribes, overwriting the expiry) for <paramref name="duration"/>; refused past the limit (<c>Presence:Subscriptions:Max</c>).</summary>
    [Alias("Subscribe")]
    Task<SubscribeResult> Subscribe(string[] userIds, TimeSpan duration, CancellationToken cancellationToken = default);

    [Alias("Unsubscribe")]
    Task Unsubscribe(string[] userIds, CancellationToken cancellationToken = default);

    /// <summary>Live subscriptions ordered by user id: <paramref name="take"/> of them after the first <paramref name="skip"/>.</summary>
    [Alias("List"), ReadOnly]
    Task<SubscriptionPage> List(int skip, int take, CancellationToken cancellationToken = default);
}

/// <summary>Expiry null: refused, the subscriber would follow more than <paramref name="Limit"/> users.</summary>
[GenerateSerializer, Immutable, Alias("presence.SubscribeResult")]
public sealed record SubscribeResult(DateTimeOffset? Expiry, int Total, int Limit = 0);

[GenerateSerializer, Immutable, Alias("presence.Subscription")]
public sealed record Subscription(string UserId, DateTimeOffset Expiry);

[GenerateSerializer, Immutable, Alias("presence.SubscriptionPage")]
public sealed record SubscriptionPage(int Total, Subscription[] Items);
