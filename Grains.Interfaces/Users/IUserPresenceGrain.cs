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
}

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
}
