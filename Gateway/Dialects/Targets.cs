using Presence.Gateway.Auth;

namespace Presence.Gateway.Dialects;

/// <summary>The user a call is about: its id, whether that is the caller (who sees its own view), and the caller's profile to store when it acts for itself.</summary>
public readonly record struct Target(string UserId, bool Own, UserProfile? Profile);

/// <summary>
/// Resolves the user or channel a call names, the same way in every dialect: <c>me</c> (or nothing) is the caller,
/// an id must be valid, and only the user itself or an admin token of its tenant may change a user.
/// </summary>
public static class Targets
{
    public const string Me = "me";

    public static readonly string InvalidUserId = $"invalid user id: 1-{PresenceKeys.MaxIdLength} letters, digits, '_', '.', ':', '-', '@'";

    public static readonly string InvalidChannelId = $"invalid channel id: 1-{PresenceKeys.MaxChannelIdLength} letters, digits, '_', '.', ':', '-', '@'";

    public const string NoUsernames = "user ids only: @username lookups are not supported";

    public const string NotYours = "a user token may only act for its own user";

    /// <summary>The user <paramref name="named"/> (null or <c>me</c>: the caller), unchecked.</summary>
    public static Target Of(Caller caller, string? named)
    {
        var userId = named is null or Me ? caller.UserId : named;
        var own = userId == caller.UserId;
        return new Target(userId, own, own ? caller.Profile : null);
    }

    /// <summary>The user <paramref name="named"/> (null or <c>me</c>: the caller), to read.</summary>
    public static Failure<TDialect>? Read<TDialect>(Caller caller, string? named, out Target target)
        where TDialect : Dialect, IDialect<TDialect>
    {
        target = Of(caller, named);
        var userId = target.UserId;
        if (userId.StartsWith('@'))
        {
            return Failure<TDialect>.BadRequest(NoUsernames);
        }
        return PresenceKeys.IsValidId(userId) ? null : Failure<TDialect>.BadRequest(InvalidUserId);
    }

    /// <summary>The user <paramref name="named"/>, to change: the caller itself, or anyone of its tenant with an admin token (else 403).</summary>
    public static Failure<TDialect>? Write<TDialect>(Caller caller, string? named, out Target target)
        where TDialect : Dialect, IDialect<TDialect>
        => Read<TDialect>(caller, named, out target)
            ?? (caller.MayActFor(target.UserId) ? null : Failure<TDialect>.Forbidden(NotYours));

    /// <summary>A channel id.</summary>
    public static Failure<TDialect>? Channel<TDialect>(string? channelId)
        where TDialect : Dialect, IDialect<TDialect>
        => PresenceKeys.IsValidId(channelId, PresenceKeys.MaxChannelIdLength) ? null : Failure<TDialect>.BadRequest(InvalidChannelId);
}
