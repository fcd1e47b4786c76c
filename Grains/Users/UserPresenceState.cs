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

    /// <summary>Appears offline to everyone else until set false (Stream's invisible, Rocket.Chat's "offline").</summary>
    [Id(6)] public bool Invisible { get; set; }

    /// <summary>What others saw when the user turned invisible, and still see: last seen then, that ext.</summary>
    [Id(7)] public DateTimeOffset? HiddenLastSeenAt { get; set; }
    [Id(8)] public string HiddenExt { get; set; } = "";

    /// <summary>A status the user chose (Rocket.Chat's setStatus); it holds, without TTL, while any source is live.</summary>
    [Id(9)] public string? Manual { get; set; }

    /// <summary>The text the user chose with its status (Rocket.Chat's statusText).</summary>
    [Id(10)] public string? StatusText { get; set; }

    /// <summary>
    /// Channels where the user set presence, with when that presence ends: the channels to tell when the user
    /// turns invisible or visible. At most <see cref="MaxChannels"/>, the soonest to end dropped first.
    /// </summary>
    [Id(11)] public Dictionary<string, DateTimeOffset> Channels { get; set; } = [];

    /// <summary>The devices and profile others saw when the user turned invisible, and still see.</summary>
    [Id(12)] public List<string> HiddenDevices { get; set; } = [];
    [Id(13)] public UserProfile? HiddenProfile { get; set; }

    public const int MaxDevices = 20;
    public const int MaxChannels = 256;
}

/// <summary>
/// One live source of presence. It counts while ExpiresAt is in the future, whether or not a timer fired. A refresh of
/// the same status moves it along in place (<see cref="Refresh"/>): a source lives as long as its user, and one
/// replaced on every heartbeat would be, under load, garbage promoted to the oldest generation before it dies.
/// </summary>
[GenerateSerializer, Alias("presence.PresenceSource")]
public sealed record PresenceSource(string Status, DateTimeOffset UpdatedAt, DateTimeOffset ExpiresAt)
{
    [Id(0)] public string Status { get; private set; } = Status;

    [Id(1)] public DateTimeOffset UpdatedAt { get; private set; } = UpdatedAt;

    [Id(2)] public DateTimeOffset ExpiresAt { get; private set; } = ExpiresAt;

    public void Refresh(DateTimeOffset updatedAt, DateTimeOffset expiresAt) => (UpdatedAt, ExpiresAt) = (updatedAt, expiresAt);
}
