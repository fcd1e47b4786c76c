using Presence.Model;

namespace Presence.Users;

/// <summary>One user's presence: its sources, profile and last_seen_at. Key: <see cref="PresenceKeys.Of"/>(tenant, userId).</summary>
[Alias("presence.IUserPresenceGrain")]
public interface IUserPresenceGrain : IGrainWithStringKey
{
    /// <summary>Sets (or, with a null status, deletes) one presence source and returns the resulting presence.</summary>
    [Alias("Update")]
    Task<UserPresence> Update(PresenceUpdate update, CancellationToken cancellationToken = default);

    [Alias("Get"), ReadOnly]
    Task<UserPresence> Get(CancellationToken cancellationToken = default);

    /// <summary>Sets (status null: takes offline) one device of the user, and the user's presence extension text.</summary>
    [Alias("SetDevice")]
    Task<UserPresence> SetDevice(DeviceUpdate update, CancellationToken cancellationToken = default);

    /// <summary>The presence with every source: live ones with their status, known devices that are offline with none.</summary>
    [Alias("GetDetail"), ReadOnly]
    Task<PresenceDetail> GetDetail(CancellationToken cancellationToken = default);
}

/// <summary>A device resource ("android_123") set to a status (null = offline) for <see cref="Ttl"/>, with the user's ext.</summary>
[GenerateSerializer, Immutable, Alias("presence.DeviceUpdate")]
public sealed record DeviceUpdate(string Resource, string? Status, string Ext, TimeSpan Ttl, UserProfile? Profile);

/// <summary>A user's presence source: Status null means offline (a known device that is not live).</summary>
[GenerateSerializer, Immutable, Alias("presence.SourceStatus")]
public sealed record SourceStatus(string Source, string? Status);

[GenerateSerializer, Immutable, Alias("presence.PresenceDetail")]
public sealed record PresenceDetail(string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, string Ext, SourceStatus[] Sources);

/// <summary>
/// A change to one presence source. Status null deletes the source. Ttl null means the configured default
/// (<c>Presence:Expiry:Default</c>). Profile null leaves the stored profile as it is (an admin acting for a user).
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.PresenceUpdate")]
public sealed record PresenceUpdate(string Source, string? Status, TimeSpan? Ttl, UserProfile? Profile);

/// <summary>A user's presence as every dialect reads it. Status is the effective status; LastSeenAt null = never set.</summary>
[GenerateSerializer, Immutable, Alias("presence.UserPresence")]
public sealed record UserPresence(string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt);

/// <summary>Well-known presence source names.</summary>
public static class PresenceSources
{
    /// <summary>Status set through a REST API (pnut's global PUT, update_presence).</summary>
    public const string Api = "api";

    /// <summary>Prefix of device sources: "device:android_123".</summary>
    public const string DevicePrefix = "device:";
}
