using System.Text.Json.Serialization;
using Presence.Gateway.Realtime;

namespace Presence.Gateway.Stream;

/// <summary>
/// A user as Stream's SDK keeps it. Every response and event writes users through this one record, so the SDK, which
/// replaces a user's whole object with each one it receives, never loses a field. <c>invisible</c> is written only
/// in the user's own view; to others an invisible user is offline.
/// </summary>
public sealed record StreamUser(
    string Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Image,
    string Role,
    bool Online,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Invisible,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LastActive,
    // This service's own status (online, away, dnd...), as a custom field: Stream keeps custom fields on the user.
    string Status);

/// <summary>The connected user (<c>me</c>): the user and the arrays the SDK loops over, always present, empty here.</summary>
public sealed record StreamOwnUser(
    string Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Image,
    string Role,
    bool Online,
    bool Invisible,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LastActive,
    string Status)
{
    public string Language { get; init; } = "";
    public string[] Teams { get; init; } = [];
    public bool Banned { get; init; }
    public object[] Devices { get; init; } = [];
    public object[] Mutes { get; init; } = [];
    public object[] ChannelMutes { get; init; } = [];
    public string[] BlockedUserIds { get; init; } = [];
    public int UnreadCount { get; init; }
    public int TotalUnreadCount { get; init; }
    public int UnreadChannels { get; init; }
    public int UnreadThreads { get; init; }
}

/// <summary>A connection's first frame, and the answer to each of its pings (those without <c>me</c>).</summary>
public sealed record StreamHealthCheck(
    string Type,
    string ConnectionId,
    string Cid,
    string CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] StreamOwnUser? Me);

/// <summary><c>user.presence.changed</c> (others' view) and <c>user.updated</c> (the own view, to the user's own connections): no <c>cid</c>.</summary>
public sealed record StreamUserEvent(string Type, StreamUser User, string CreatedAt);

/// <summary><c>user.updated</c> to the user's own connections, with its own view.</summary>
public sealed record StreamOwnUserEvent(string Type, StreamOwnUser User, string CreatedAt);

/// <summary><c>user.watching.start</c> / <c>user.watching.stop</c>: a member's presence in a watched channel began or ended.</summary>
public sealed record StreamWatchingEvent(string Type, string Cid, string ChannelId, string ChannelType, StreamUser User, int WatcherCount, string CreatedAt);

/// <summary>The socket's refusal, its first and last frame: <c>{"error":{"code":40,"message","StatusCode":401,...}}</c>.</summary>
public sealed record StreamSocketError(StreamErrorBody Error);

public sealed record StreamUsersResponse(StreamUser[] Users, string Duration);

public sealed record StreamUpsertResponse(Dictionary<string, StreamUser> Users, string Duration);

public sealed record StreamDuration(string Duration);

public sealed record StreamChannel(string Id, string Type, string Cid, int MemberCount);

public sealed record StreamMember(string UserId, StreamUser User, string Role);

/// <summary>A channel's state: its members with their users, who watches it, and no messages (this is not a message store).</summary>
public sealed record StreamChannelState(StreamChannel Channel, StreamMember[] Members, StreamUser[] Watchers, int WatcherCount)
{
    public object[] Messages { get; init; } = [];
    public object[] PinnedMessages { get; init; } = [];
    public object[] Read { get; init; } = [];
}

public sealed record StreamChannelResponse(
    StreamChannel Channel, StreamMember[] Members, StreamUser[] Watchers, int WatcherCount, object[] Messages, object[] PinnedMessages, object[] Read, string Duration)
{
    public static StreamChannelResponse Of(StreamChannelState state, string duration)
        => new(state.Channel, state.Members, state.Watchers, state.WatcherCount, state.Messages, state.PinnedMessages, state.Read, duration);
}

public sealed record StreamChannelsResponse(StreamChannelState[] Channels, string Duration);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StreamErrorBody))]
[JsonSerializable(typeof(StreamSocketError))]
[JsonSerializable(typeof(StreamHealthCheck))]
[JsonSerializable(typeof(StreamUserEvent))]
[JsonSerializable(typeof(StreamOwnUserEvent))]
[JsonSerializable(typeof(StreamWatchingEvent))]
[JsonSerializable(typeof(StreamUsersResponse))]
[JsonSerializable(typeof(StreamUpsertResponse))]
[JsonSerializable(typeof(StreamDuration))]
[JsonSerializable(typeof(StreamChannelResponse))]
[JsonSerializable(typeof(StreamChannelsResponse))]
public sealed partial class StreamChatJsonContext : JsonSerializerContext;
