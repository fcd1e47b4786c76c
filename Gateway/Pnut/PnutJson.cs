using System.Text.Json.Serialization;

namespace Presence.Gateway.Pnut;

/// <summary>pnut's response envelope: <c>{"meta":{"code":200,...},"data":...}</c>.</summary>
public sealed record PnutEnvelope<T>(PnutMeta Meta, T Data);

/// <summary>pnut's error envelope: no data, <c>meta.error_message</c> says what went wrong.</summary>
public sealed record PnutErrorEnvelope(PnutMeta Meta);

public sealed record PnutMeta(int Code)
{
    public string? ErrorMessage { get; init; }

    /// <summary>Present when the call carried <c>update_presence</c>: whether that update happened.</summary>
    public bool? UpdatedPresence { get; init; }

    /// <summary>Opaque: pass it as <c>before_id</c> to get the next page.</summary>
    public string? MinId { get; init; }

    public bool? More { get; init; }
}

/// <summary>pnut's user presence object; presence and last_seen_at are left out where pnut leaves them out.</summary>
public sealed record PnutUserPresence(string Id, string Username, string? Name, string AvatarImage, string? Presence, string? LastSeenAt)
{
    /// <summary>Only in the user's own view, and only when it is invisible.</summary>
    public bool? Invisible { get; init; }
}

/// <summary>The channel as a subscribe/unsubscribe call returns it.</summary>
public sealed record PnutChannel(string Id, PnutChannelCounts Counts, bool YouSubscribed);

public sealed record PnutChannelCounts(int Subscribers);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PnutEnvelope<PnutUserPresence>))]
[JsonSerializable(typeof(PnutEnvelope<PnutUserPresence[]>))]
[JsonSerializable(typeof(PnutEnvelope<PnutChannel>))]
[JsonSerializable(typeof(PnutErrorEnvelope))]
public sealed partial class PnutJsonContext : JsonSerializerContext;
