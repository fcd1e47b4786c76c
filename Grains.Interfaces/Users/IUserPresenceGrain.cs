using Presence.Model;

namespace Presence.Users;

/// <summary>One user's presence: its sources, profile and last_seen_at. Key: <see cref="PresenceKeys.Of"/>(tenant, userId).</summary>
[Alias("presence.IUserPresenceGrain")]
public interface IUserPresenceGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sets (or, with a null status, deletes) one presence source and returns the resulting presence. Not cancellable:
    /// it takes well under a millisecond once the call reaches the grain, and Orleans gives every call of a
    /// cancellable method a cancellation source of its own, and boxes its token, which a presence update, the call a
    /// chat platform makes most, would pay for on every heartbeat.
    /// </summary>
    [Alias("Update")]
    Task<UserPresence> Update(PresenceUpdate update);

    /// <summary>
    /// The presence as others see it (an invisible user is offline, last seen when it turned invisible), or with
    /// <paramref name="own"/> as the user itself sees it: the real status, and whether it is invisible.
    /// </summary>
    [Alias("GetView"), ReadOnly]
    Task<UserPresence> Get(bool own = false, CancellationToken cancellationToken = default);

    /// <summary>Appears offline to everyone else (true) or visible again (false); persists until changed. Returns the own view.</summary>
    [Alias("SetInvisible")]
    Task<UserPresence> SetInvisible(bool invisible, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the user's profile (username, name, avatar) alone, as Stream's user upserts do, whatever its presence:
    /// where the user is listed, others see it at once (while invisible, they keep seeing the profile it had when it
    /// turned invisible). Returns the own view.
    /// </summary>
    [Alias("SetProfile")]
    Task<UserPresence> SetProfile(UserProfile profile, CancellationToken cancellationToken = default);

    /// <summary>
    /// A status the user chose (Rocket.Chat's setStatus): it overrides the effective status while any source is
    /// live, without a TTL and without making the user live by itself. Returns the own view.
    /// </summary>
    [Alias("SetManualStatus")]
    Task<UserPresence> SetManualStatus(ManualStatus status, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the user's presence in a channel through the user, so that the channel hides it while the user is
    /// invisible, and learns when that changes.
    /// </summary>
    [Alias("SetChannelPresence")]
    Task<Channels.ChannelMember> SetChannelPresence(string channelId, Channels.ChannelPresenceUpdate update, CancellationToken cancellationToken = default);

    /// <summary>Sets (status null: takes offline) one device of the user, and the user's presence extension text.</summary>
    [Alias("SetDevice")]
    Task<UserPresence> SetDevice(DeviceUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// The gateway of a stream hold stopped renewing it (the user's index shard saw its lease end): the hold ends,
    /// unless it was set at or after <paramref name="setBefore"/>, the middle of the hold's last lease. A gateway
    /// touches its users' holds only within a third of a lease after renewing it with their shard, and sets them again
    /// only after a lease ended: half a lease apart, room for the clocks of two silos to differ.
    /// </summary>
    [Alias("ReleaseHold"), OneWay]
    Task ReleaseHold(string source, DateTimeOffset setBefore);

    /// <summary>The presence with every source: live ones with their status, known devices that are offline with none.</summary>
    [Alias("GetDetailView"), ReadOnly]
    Task<PresenceDetail> GetDetail(bool own = false, CancellationToken cancellationToken = default);
}

/// <summary>A device resource ("android_123") set to a status (null = offline) for <see cref="Ttl"/>, with the user's ext.</summary>
[GenerateSerializer, Immutable, Alias("presence.DeviceUpdate")]
public sealed record DeviceUpdate(string Resource, string? Status, string Ext, TimeSpan Ttl, UserProfile? Profile);

/// <summary>A user's presence source: Status null means offline (a known device that is not live).</summary>
[GenerateSerializer, Immutable, Alias("presence.SourceStatus")]
public sealed record SourceStatus(string Source, string? Status);

/// <summary>Others' view unless asked for the own one: an invisible user's sources all show offline.</summary>
[GenerateSerializer, Immutable, Alias("presence.PresenceDetail")]
public sealed record PresenceDetail(string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, string Ext, SourceStatus[] Sources, string? StatusText = null);

/// <summary>
/// A change to one presence source. Status null deletes the source. Ttl null means the configured default
/// (<c>Presence:Expiry:Default</c>). Profile null leaves the stored profile as it is (an admin acting for a user).
/// A renewal (a held connection's lease) is not activity: it moves last_seen_at only when that is older than
/// <see cref="LastActiveRefresh"/>, as Stream refreshes last_active.
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.PresenceUpdate")]
public sealed record PresenceUpdate(string Source, string? Status, TimeSpan? Ttl, UserProfile? Profile, bool Renewal = false)
{
    public static readonly TimeSpan LastActiveRefresh = TimeSpan.FromMinutes(15);
}

/// <summary>
/// A user's presence as every dialect reads it. Status is the effective status; LastSeenAt null = never set.
/// Invisible is only ever true in the user's own view; StatusText is the text the user chose with its status.
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.UserPresence")]
public sealed record UserPresence(string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, bool Invisible = false, string? StatusText = null);

/// <summary>
/// A chosen status: Status null clears it (back to what the sources say); Invisible appears offline to others
/// (Rocket.Chat's "offline"). Text is shown with the status (Rocket.Chat's statusText): null keeps it, "" clears it.
/// TextOnly: only the text changes (a setStatus with a message and no status).
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.ManualStatus")]
public sealed record ManualStatus(string? Status, string? Text, bool Invisible, UserProfile? Profile, bool TextOnly = false);

/// <summary>Well-known presence source names.</summary>
public static class PresenceSources
{
    /// <summary>Status set through a REST API (pnut's global PUT, update_presence).</summary>
    public const string Api = "api";

    /// <summary>Prefix of device sources: "device:android_123".</summary>
    public const string DevicePrefix = "device:";

    /// <summary>Prefix of the source a gateway holds for a user's open streams: "stream:{gateway id}".</summary>
    public const string StreamPrefix = "stream:";

    public static bool IsStreamHold(string source) => source.StartsWith(StreamPrefix, StringComparison.Ordinal);
}
