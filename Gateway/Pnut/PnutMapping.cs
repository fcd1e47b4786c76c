using System.Globalization;
using Presence.Channels;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Pnut;

/// <summary>The one presence model in pnut's wire shapes.</summary>
public static class PnutMapping
{
    /// <summary>The own view of an invisible user says so: <c>"invisible": true</c>; nobody else's view has the field.</summary>
    public static PnutUserPresence ToPnut(this UserPresence presence)
        => Create(presence.UserId, presence.Profile, presence.Status, presence.LastSeenAt) with { Invisible = presence.Invisible ? true : null };

    public static PnutUserPresence ToPnut(this OnlineUser user)
        => Create(user.UserId, user.Profile, user.Status, user.LastSeenAt);

    public static PnutUserPresence ToPnut(this ChannelMember member, bool includePresence = true) => includePresence
        ? Create(member.UserId, member.Profile, member.Status, member.LastSeenAt) with { Invisible = member.Hidden ? true : null }
        : Create(member.UserId, member.Profile, null, null);

    public static PnutChannel ToPnut(this ChannelInfo channel) => new(channel.ChannelId, new PnutChannelCounts(channel.Subscribers), channel.YouSubscribed);

    // A user the service knows only by id (never sent a token with profile claims) shows its id as username.
    private static PnutUserPresence Create(string id, UserProfile profile, string? status, DateTimeOffset? lastSeenAt) => new(
        id,
        profile.Username ?? id,
        profile.Name,
        profile.AvatarUrl ?? "",
        status,
        lastSeenAt is { } at ? Iso8601(at) : null);

    /// <summary>ISO 8601 in UTC to the second, as pnut writes times: 2019-01-01T00:00:00Z.</summary>
    public static string Iso8601(DateTimeOffset at) => string.Create(20, at.UtcDateTime, static (chars, utc) =>
    {
        utc.TryFormat(chars, out _, "s", CultureInfo.InvariantCulture); // the sortable format has a fast path
        chars[19] = 'Z';
    });
}
