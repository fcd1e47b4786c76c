namespace Presence.Grains.Users;

/// <summary>What is stored of a user. Sources are keyed by name ("api", a device, a connection).</summary>
[GenerateSerializer, Alias("presence.UserPresenceState")]
public sealed class UserPresenceState
{
    [Id(0)] public UserProfile Profile { get; set; } = UserProfile.Empty;
    [Id(1)] public Dictionary<string, PresenceSource> Sources { get; set; } = [];
    [Id(2)] public DateTimeOffset? LastSeenAt { get; set; }
    [Id(3)] public long Version { get; set; }

    /// <summary>Device sources ever set, most recently set last (at most <see cref="MaxDevices"/>), so offline ones still show.</summary>
    [Id(4)] public List<string> Devices { get; set; } = [];

    /// <summary>The presence extension text (Agora's ext) last set with a device.</summary>
    [Id(5)] public string Ext { get; set; } = "";

    public const int MaxDevices = 20;
}

/// <summary>One live source of presence. It counts while ExpiresAt is in the future, whether or not a timer fired.</summary>
[GenerateSerializer, Immutable, Alias("presence.PresenceSource")]
public sealed record PresenceSource([property: Id(0)] string Status, [property: Id(1)] DateTimeOffset UpdatedAt, [property: Id(2)] DateTimeOffset ExpiresAt);
