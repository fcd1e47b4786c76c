using System.Text.Json.Serialization;

namespace Presence.Gateway.RocketChat;

/// <summary>A user as users.presence lists it.</summary>
public sealed record RocketChatUser(
    [property: JsonPropertyName("_id")] string Id,
    string Username,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? StatusText);

public sealed record RocketChatPresenceList(RocketChatUser[] Users, bool Full, bool Success = true);

public sealed record RocketChatGetPresence(string Presence, bool Success = true);

public sealed record RocketChatGetStatus(
    [property: JsonPropertyName("_id")] string Id,
    string Message,
    string ConnectionStatus,
    string Status,
    bool Success = true);

public sealed record RocketChatError(string Error, bool Success = false);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RocketChatPresenceList))]
[JsonSerializable(typeof(RocketChatGetPresence))]
[JsonSerializable(typeof(RocketChatGetStatus))]
[JsonSerializable(typeof(RocketChatError))]
public sealed partial class RocketChatJsonContext : JsonSerializerContext;
