using System.Text.Json.Serialization;

namespace Presence.Gateway.Agora;

/// <summary>Agora's result envelope: <c>{"result": ...}</c>.</summary>
public sealed record AgoraResult<T>(T Result);

/// <summary>One user's presence as Agora reports it; numbers travel as strings.</summary>
public sealed record AgoraPresence(
    string Uid,
    [property: JsonPropertyName("last_time")] string LastTime,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Expiry,
    string Ext,
    Dictionary<string, string> Status);

public sealed record AgoraSubscriptionList(string Totalnum, AgoraSubscription[] Sublist);

public sealed record AgoraSubscription(string Uid, string Expiry);

/// <summary>Agora's error format.</summary>
public sealed record AgoraError(
    string Error,
    string Exception,
    long Timestamp,
    int Duration,
    [property: JsonPropertyName("error_description")] string ErrorDescription);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(AgoraResult<string>))]
[JsonSerializable(typeof(AgoraResult<AgoraPresence[]>))]
[JsonSerializable(typeof(AgoraResult<AgoraSubscriptionList>))]
[JsonSerializable(typeof(AgoraError))]
public sealed partial class AgoraJsonContext : JsonSerializerContext;
