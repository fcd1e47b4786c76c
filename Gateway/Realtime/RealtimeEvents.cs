using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Presence.Channels;
using Presence.Gateway.Pnut;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Realtime;

/// <summary>The realtime events in Stream's shape, written straight to UTF-8 once per event.</summary>
public static class RealtimeEvents
{
    public const string UserPresenceChanged = "user.presence.changed";
    public const string ChannelPresenceChanged = "channel.presence.changed";
    public const string HealthCheck = "health.check";

    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><c>{"type":"user.presence.changed","user":{id,username,name,online,status,last_active},"created_at"}</c></summary>
    public static EventFrame UserChanged(PresenceChange change) => Write(writer =>
    {
        writer.WriteString("type", UserPresenceChanged);
        writer.WritePropertyName("user");
        WriteUser(writer, change.UserId, change.Profile, change.Status, change.LastSeenAt, invisible: false);
        writer.WriteString("created_at", Time(change.At));
    });

    /// <summary><c>{"type":"channel.presence.changed","channel_id","user":{pnut's user presence object},"created_at"}</c></summary>
    public static EventFrame ChannelChanged(string channelId, ChannelMember member, DateTimeOffset at) => Write(writer =>
    {
        writer.WriteString("type", ChannelPresenceChanged);
        writer.WriteString("channel_id", channelId);
        writer.WritePropertyName("user");
        var user = member.ToPnut();
        writer.WriteStartObject();
        writer.WriteString("id", user.Id);
        writer.WriteString("username", user.Username);
        if (user.Name is not null)
        {
            writer.WriteString("name", user.Name);
        }
        writer.WriteString("avatar_image", user.AvatarImage);
        writer.WriteString("presence", user.Presence);
        if (user.LastSeenAt is not null)
        {
            writer.WriteString("last_seen_at", user.LastSeenAt);
        }
        writer.WriteEndObject();
        writer.WriteString("created_at", Time(at));
    });

    /// <summary>
    /// The first event of every stream, once its watches are in place (events from then on are not missed):
    /// <c>{"type":"health.check","connection_id","me":{the caller as it sees itself},"created_at"}</c>.
    /// </summary>
    public static EventFrame Connected(string connectionId, UserPresence me, DateTimeOffset at) => Write(writer =>
    {
        writer.WriteString("type", HealthCheck);
        writer.WriteString("connection_id", connectionId);
        writer.WritePropertyName("me");
        WriteUser(writer, me.UserId, me.Profile, me.Status, me.LastSeenAt, me.Invisible);
        writer.WriteString("created_at", Time(at));
    });

    /// <summary><c>{"type":"connection.error","error":{"code":-1,"message"}}</c>: the stream ends after it.</summary>
    public static EventFrame Failed(string message) => Write(writer =>
    {
        writer.WriteString("type", "connection.error");
        writer.WriteStartObject("error");
        writer.WriteNumber("code", -1);
        writer.WriteString("message", message);
        writer.WriteEndObject();
    });

    private static void WriteUser(Utf8JsonWriter writer, string id, UserProfile profile, string status, DateTimeOffset? lastActive, bool invisible)
    {
        writer.WriteStartObject();
        writer.WriteString("id", id);
        writer.WriteString("username", profile.Username ?? id);
        if (profile.Name is not null)
        {
            writer.WriteString("name", profile.Name);
        }
        writer.WriteBoolean("online", status != PresenceStatus.Offline);
        writer.WriteString("status", status);
        if (lastActive is { } at)
        {
            writer.WriteString("last_active", Time(at));
        }
        else
        {
            writer.WriteNull("last_active");
        }
        if (invisible)
        {
            writer.WriteBoolean("invisible", true);
        }
        writer.WriteEndObject();
    }

    /// <summary>ISO 8601 in UTC with milliseconds, as Stream writes times.</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static EventFrame Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return new EventFrame(buffer.WrittenSpan.ToArray());
    }
}
