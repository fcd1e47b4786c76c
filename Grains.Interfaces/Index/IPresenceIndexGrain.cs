using Presence.Model;

namespace Presence.Index;

/// <summary>
/// One shard of a tenant's online-user index. Key: <see cref="PresenceKeys.ShardKey"/>(tenant, shard); a user
/// belongs to shard <see cref="PresenceKeys.ShardOf"/>(userId, shards). Each shard keeps its online users, drives
/// their expiry with one timer, and logs the changes of the last ten minutes.
/// </summary>
[Alias("presence.IPresenceIndexGrain")]
public interface IPresenceIndexGrain : IGrainWithStringKey
{
    [Alias("Apply")]
    Task Apply(IndexUpdate[] updates);

    /// <summary>Online users ordered by user id, strictly after <paramref name="afterUserId"/>.</summary>
    [Alias("List")]
    Task<IndexSlice> List(string? afterUserId, int count, CancellationToken cancellationToken = default);

    /// <summary>
    /// The user as others see it while it is listed here (online and visible; the user itself sees the same), else
    /// null: the user's own grain then knows (offline, invisible, or a user this shard does not hold). Reads of online
    /// users answered here activate no user grain: the shard already holds everything such a read returns.
    /// </summary>
    [Alias("Find")]
    Task<Users.UserPresence?> Find(string userId);

    /// <summary>
    /// Adds and removes users a gateway watches in this shard (<paramref name="replace"/>: the whole set, as a
    /// renewal sends it). Every later change of their effective status reaches the gateway once.
    /// </summary>
    [Alias("Watch")]
    Task Watch(Events.GatewayWatch gateway, string[] add, string[] remove, bool replace);

    /// <summary>
    /// A gateway that holds users of this shard online through open streams (their source
    /// <paramref name="source"/>, see <see cref="Users.PresenceSources.StreamPrefix"/>) is alive for
    /// <paramref name="lease"/> more. A hold whose gateway stops renewing it (the gateway died) is released from every
    /// user of this shard it holds, at once when the lease ends: the users it held go offline without a call per
    /// user while the gateway lives. False when the shard did not know the hold as alive (it restarted, or the hold
    /// had lapsed): the gateway then sets its users' holds again.
    /// </summary>
    [Alias("RenewHold")]
    Task<bool> RenewHold(string source, TimeSpan lease);

    /// <summary>Changes of effective status at or after <paramref name="since"/> (kept for <see cref="PresenceChange.Window"/>).</summary>
    [Alias("ChangesSince")]
    Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken = default);
}

/// <summary>
/// What a user grain tells its shard: the effective status now and the steps it will take as sources expire
/// (ordered by time; the last step is offline, Status null). Status null now means the user is offline.
/// Version orders updates of one user that may arrive out of order. Holds: the stream holds (sources of gateways,
/// see <see cref="IPresenceIndexGrain.RenewHold"/>) among what keeps the user online, if any.
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.IndexUpdate")]
public sealed record IndexUpdate(string UserId, long Version, UserProfile Profile, DateTimeOffset? LastSeenAt, string? Status, StatusStep[] Steps, string? StatusText = null, string[]? Holds = null);

/// <summary>At <see cref="At"/> the effective status becomes <see cref="Status"/> (null = offline).</summary>
[GenerateSerializer, Immutable, Alias("presence.StatusStep")]
public readonly record struct StatusStep(DateTimeOffset At, string? Status);

[GenerateSerializer, Immutable, Alias("presence.OnlineUser")]
public sealed record OnlineUser(string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, string? StatusText = null);

[GenerateSerializer, Immutable, Alias("presence.IndexSlice")]
public sealed record IndexSlice(OnlineUser[] Users, bool More);

/// <summary>A user's effective status (or its status text) changed to <see cref="Status"/> ("offline" included) at <see cref="At"/>.</summary>
[GenerateSerializer, Immutable, Alias("presence.PresenceChange")]
public sealed record PresenceChange(DateTimeOffset At, string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, string? StatusText = null)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(10);
}
