using Presence.Events;
using Presence.Gateway.Realtime;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Stream;

/// <summary>The events of a <c>/connect</c> socket, in the SDK's shapes (docs/stream-chat.md).</summary>
public static class StreamChatEvents
{
    public const string HealthCheck = "health.check";
    public const string UserPresenceChanged = "user.presence.changed";
    public const string UserUpdated = "user.updated";
    public const string WatchingStart = "user.watching.start";
    public const string WatchingStop = "user.watching.stop";

    private static StreamChatDialect Dialect => StreamChatDialect.Instance;

    /// <summary>The first frame: <c>health.check</c> with the connection's id and the full own user.</summary>
    public static EventFrame Connected(string connectionId, UserPresence me, DateTimeOffset at)
        => new(Dialect.Serialize(new StreamHealthCheck(HealthCheck, connectionId, "*", RealtimeEvents.Time(at), StreamChatUsers.Own(me))));

    /// <summary>The answer to a client's ping.</summary>
    public static EventFrame Pong(string connectionId, DateTimeOffset at)
        => new(Dialect.Serialize(new StreamHealthCheck(HealthCheck, connectionId, "*", RealtimeEvents.Time(at), null)));

    /// <summary><c>user.presence.changed</c> with the whole user as others see it, without <c>cid</c> (a client-level event).</summary>
    public static EventFrame UserChanged(PresenceChange change)
        => new(Dialect.Serialize(new StreamUserEvent(UserPresenceChanged, StreamChatUsers.Of(change), RealtimeEvents.Time(change.At))));

    /// <summary><c>user.updated</c> with the own view, to the user's own connections after it changed itself.</summary>
    public static EventFrame Updated(UserPresence own, DateTimeOffset at)
        => new(Dialect.Serialize(new StreamOwnUserEvent(UserUpdated, StreamChatUsers.Own(own), RealtimeEvents.Time(at))));

    /// <summary>
    /// A member's presence in a watched channel began (<c>user.watching.start</c>) or ended (<c>.stop</c>), with the
    /// channel's count of watchers; none for a channel id without a type, which no Stream client watches.
    /// </summary>
    public static EventFrame? Watching(string channelId, ChannelChange change)
    {
        if (ChannelTypes.TypeOf(channelId) is not { } type)
        {
            return null;
        }
        var member = change.Member;
        var watching = member.Status != PresenceStatus.Offline;
        var user = StreamChatUsers.Of(member.UserId, member.Profile, member.Status, member.LastSeenAt, null);
        return new(Dialect.Serialize(new StreamWatchingEvent(watching ? WatchingStart : WatchingStop, channelId, channelId[(type.Length + 1)..], type,
            user, change.Present, RealtimeEvents.Time(change.At))));
    }

    /// <summary>Whether a client's message is a ping: a <c>health.check</c> object, alone or in an array (as the SDK sends it).</summary>
    public static bool IsPing(ReadOnlySpan<byte> message)
    {
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(message, new System.Text.Json.JsonReaderOptions { MaxDepth = 4 });
            while (reader.Read())
            {
                if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.CurrentDepth <= 2 && reader.ValueTextEquals("type"u8)
                    && reader.Read() && reader.TokenType == System.Text.Json.JsonTokenType.String && reader.ValueTextEquals(HealthCheck))
                {
                    return true;
                }
            }
            return false;
        }
        catch (Exception error) when (error is System.Text.Json.JsonException or InvalidOperationException)
        {
            return false; // not JSON, or text that is not valid (an escaped lone surrogate): ignored
        }
    }

    /// <summary>A refusal as the socket's first and only frame (the socket then closes with 1000: the SDK does not retry).</summary>
    public static byte[] Refusal(int code, string message, int statusCode)
        => Dialect.Serialize(new StreamSocketError(new StreamErrorBody(code, message, statusCode)));
}
