using Presence.Model;

namespace Presence.Index;

/// <summary>
/// A node of a tenant's online-user index. A user belongs to logical shard <see cref="PresenceKeys.ShardOf"/>(userId,
/// shards); a node holds the range of logical shards its key names (<see cref="PresenceKeys.ShardKey(string, int, int)"/>),
/// all of them at first (the tenant's root). A node holding more users than it should splits in two halves, which
/// take over its users, log and holds; it then passes every call on to them (and says where it split, in the
/// <c>Cuts</c> of its answers, so callers go straight to the halves next time). A node that holds users keeps them,
/// drives their expiry with one timer, and logs the changes of the last ten minutes.
/// </summary>
[Alias("presence.IPresenceIndexGrain")]
public interface IPresenceIndexGrain : IGrainWithStringKey
{
    /// <summary>Null when applied here; else the cuts below this node (it split, and passed the updates on).</summary>
    [Alias("Apply")]
    Task<int[]?> Apply(IndexUpdate[] updates);

    /// <summary>
    /// Online users ordered by logical shard, then by user id, from logical shard <paramref name="shard"/> on, strictly
    /// after <paramref name="afterUserId"/> within it. A node that split lists nothing and answers its cuts.
    /// </summary>
    [Alias("List")]
    Task<IndexSlice> List(int shard, string? afterUserId, int count, CancellationToken cancellationToken = default);

    /// <summary>
    /// The user as others see it while it is listed here (online and visible; the user itself sees the same), else
    /// null: the user's own grain then knows (offline, invisible, or a user this shard does not hold). Reads of online
    /// users answered here activate no user grain: the shard already holds everything such a read returns.
    /// </summary>
    [Alias("Find")]
    Task<IndexFound> Find(string userId);

    /// <summary>
    /// Adds and removes users a gateway watches in this node (<paramref name="replace"/>: the whole set, as a
    /// renewal sends it). Every later change of their effective status reaches the gateway once. Answers as
    /// <see cref="Apply"/>.
    /// </summary>
    [Alias("Watch")]
    Task<int[]?> Watch(Events.GatewayWatch gateway, string[] add, string[] remove, bool replace);

    /// <summary>
    /// A gateway that holds users of this node online through open streams (their source
    /// <paramref name="source"/>, see <see cref="Users.PresenceSources.StreamPrefix"/>) is alive for
    /// <paramref name="lease"/> more. A hold whose gateway stops renewing it (the gateway died) is released from every
    /// user of this node it holds, at once when the lease ends: the users it held go offline without a call per
    /// user while the gateway lives. Not alive when the node did not know the hold as alive (it restarted, or the hold
    /// had lapsed): the gateway then sets its users' holds again.
    /// </summary>
    [Alias("RenewHold")]
    Task<HoldRenewal> RenewHold(string source, TimeSpan lease);

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

/// <summary>A page of a node's users; <see cref="Cuts"/> set (and nothing listed) when the node has split.</summary>
[GenerateSerializer, Immutable, Alias("presence.IndexSlice")]
public sealed record IndexSlice(OnlineUser[] Users, bool More, int[]? Cuts = null);

/// <summary><see cref="IPresenceIndexGrain.Find"/>'s answer; <see cref="Cuts"/> as <see cref="IPresenceIndexGrain.Apply"/>'s.</summary>
[GenerateSerializer, Immutable, Alias("presence.IndexFound")]
public sealed record IndexFound(Users.UserPresence? View, int[]? Cuts = null);

/// <summary><see cref="IPresenceIndexGrain.RenewHold"/>'s answer; <see cref="Cuts"/> as <see cref="IPresenceIndexGrain.Apply"/>'s.</summary>
[GenerateSerializer, Immutable, Alias("presence.HoldRenewal")]
public sealed record HoldRenewal(bool Alive, int[]? Cuts = null);

/// <summary>
/// A user's effective status (or its status text) changed to <see cref="Status"/> ("offline" included) at <see cref="At"/>.
/// <see cref="Version"/> is that of the user's update it came from (<see cref="IndexUpdate.Version"/>): it only grows for a
/// user, whichever shard or silo logged the change, so a gateway can put one user's changes in order (0: not known).
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.PresenceChange")]
public sealed record PresenceChange(DateTimeOffset At, string UserId, UserProfile Profile, string Status, DateTimeOffset? LastSeenAt, string? StatusText = null, long Version = 0)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(10);
}
