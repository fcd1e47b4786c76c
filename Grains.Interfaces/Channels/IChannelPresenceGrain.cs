using Presence.Model;

namespace Presence.Channels;

/// <summary>
/// Presence and membership of one channel. Key: <see cref="PresenceKeys.Of"/>(tenant, channelId).
/// Channel presence is separate from a user's global presence.
/// </summary>
[Alias("presence.IChannelPresenceGrain")]
public interface IChannelPresenceGrain : IGrainWithStringKey
{
    /// <summary>Sets a user's presence in the channel. Status null, or an expiry not in the future, deletes it.</summary>
    [Alias("SetPresence")]
    Task<ChannelMember> SetPresence(ChannelPresenceUpdate update, CancellationToken cancellationToken = default);

    /// <summary>The member as others see it, or with <paramref name="own"/> as the user itself does (real status, and whether it is hidden).</summary>
    [Alias("GetMemberView"), ReadOnly]
    Task<ChannelMember> GetMember(string userId, bool own = false, CancellationToken cancellationToken = default);

    /// <summary>Hides (the user turned invisible) or shows a member's presence; hidden members appear offline, last seen when hidden.</summary>
    [Alias("SetHidden")]
    Task SetHidden(string userId, bool hidden);

    /// <summary>
    /// Registers (or renews) a gateway watching this channel; later presence and membership changes reach the gateway
    /// once each. <paramref name="knownSequence"/> is the membership sequence the gateway holds (null: none): the
    /// subscribers, whose presence the gateway then watches, come back only when it is not the channel's, so a
    /// renewal of a channel of any size is a small call.
    /// </summary>
    [Alias("WatchFrom")]
    Task<ChannelWatchResult> Watch(Events.GatewayWatch gateway, long? knownSequence);

    /// <summary>
    /// The call gateways of the previous version make (every subscriber, at every renewal): kept so they go on
    /// watching channels during a rolling upgrade, until they are replaced.
    /// </summary>
    [Alias("Watch")]
    Task<string[]> WatchAll(Events.GatewayWatch gateway);

    [Alias("Unwatch")]
    Task Unwatch(Guid gateway);

    /// <summary>Users whose channel presence is not offline, ordered by user id, after <paramref name="afterUserId"/>.</summary>
    [Alias("ListPresent"), ReadOnly]
    Task<ChannelPage> ListPresent(string? afterUserId, int count, CancellationToken cancellationToken = default);

    [Alias("Subscribe")]
    Task<ChannelInfo> Subscribe(string userId, UserProfile? profile, CancellationToken cancellationToken = default);

    [Alias("Unsubscribe")]
    Task<ChannelInfo> Unsubscribe(string userId, CancellationToken cancellationToken = default);

    [Alias("GetInfo"), ReadOnly]
    Task<ChannelInfo> GetInfo(string userId, CancellationToken cancellationToken = default);

    /// <summary>Subscribers ordered by user id, after <paramref name="afterUserId"/>, each with its channel presence.</summary>
    [Alias("ListSubscribers"), ReadOnly]
    Task<ChannelPage> ListSubscribers(string? afterUserId, int count, CancellationToken cancellationToken = default);
}

/// <summary>
/// ExpiresAt null means now + <c>Presence:Expiry:Default</c>; later than now + ChannelMax is clamped. Hidden: the
/// user is invisible, so others must see it offline (set by the user grain, which knows).
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.ChannelPresenceUpdate")]
public sealed record ChannelPresenceUpdate(string UserId, string? Status, DateTimeOffset? ExpiresAt, UserProfile? Profile, bool Hidden = false);

/// <summary>A user as seen in one channel: Status "offline" when it has no live channel presence. Hidden only in the own view.</summary>
[GenerateSerializer, Immutable, Alias("presence.ChannelMember")]
public sealed record ChannelMember(string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, bool Subscribed, bool Hidden = false);

/// <summary>
/// The channel's membership sequence (it counts joins and leaves), and its subscribers when the gateway's sequence was
/// not that one (null when the gateway is up to date).
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.ChannelWatchResult")]
public sealed record ChannelWatchResult(long Sequence, string[]? Subscribers);

[GenerateSerializer, Immutable, Alias("presence.ChannelPage")]
public sealed record ChannelPage(ChannelMember[] Members, bool More);

/// <summary>The channel as the caller sees it: its subscriber count, whether the caller is one, and how many members are visibly present.</summary>
[GenerateSerializer, Immutable, Alias("presence.ChannelInfo")]
public sealed record ChannelInfo(string ChannelId, int Subscribers, bool YouSubscribed, int Present = 0);
