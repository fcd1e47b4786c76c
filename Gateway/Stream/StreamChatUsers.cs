using Presence.Gateway.Realtime;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Stream;

/// <summary>The one presence model as Stream's users: the same fields from every source, so the SDK's copies stay whole.</summary>
public static class StreamChatUsers
{
    public const string Role = "user";

    /// <summary>A user as others see it (an invisible one offline), or, with <paramref name="own"/>, as itself (with <c>invisible</c>).</summary>
    public static StreamUser Of(UserPresence presence, bool own = false)
        => Of(presence.UserId, presence.Profile, presence.Status, presence.LastSeenAt, own ? presence.Invisible : null);

    /// <summary>A change as others see it.</summary>
    public static StreamUser Of(PresenceChange change) => Of(change.UserId, change.Profile, change.Status, change.LastSeenAt, null);

    public static StreamUser Of(string id, UserProfile profile, string status, DateTimeOffset? lastActive, bool? invisible)
        => new(id, profile.Name, profile.AvatarUrl, Role, status != PresenceStatus.Offline, invisible, Time(lastActive), status);

    /// <summary>The connected user, <c>me</c>.</summary>
    public static StreamOwnUser Own(UserPresence presence)
        => new(presence.UserId, presence.Profile.Name, presence.Profile.AvatarUrl, Role, presence.Status != PresenceStatus.Offline,
            presence.Invisible, Time(presence.LastSeenAt), presence.Status);

    private static string? Time(DateTimeOffset? at) => at is { } value ? RealtimeEvents.Time(value) : null;
}
