namespace Presence.Grains.Hosting;

/// <summary><c>Presence:Expiry</c>: how long presence lasts when a client does not say.</summary>
public sealed class PresenceExpiryOptions
{
    public const string Section = "Presence:Expiry";

    /// <summary>TTL of a global presence update (pnut: 15 minutes); also the default channel expiration.</summary>
    public TimeSpan Default { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The latest a channel presence may expire (pnut: 7 days); later expirations are clamped.</summary>
    public TimeSpan ChannelMax { get; set; } = TimeSpan.FromDays(7);
}

/// <summary><c>Presence:Channels</c>: how long a channel remembers who was in it.</summary>
public sealed class PresenceChannelOptions
{
    public const string Section = "Presence:Channels";

    /// <summary>
    /// A member who is neither subscribed nor present is kept this long after it was last seen in the channel, so its
    /// channel presence still reads with <c>last_seen_at</c>, then removed from the channel and from storage.
    /// </summary>
    public TimeSpan LastSeenRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Members a channel may hold (subscribed, present, or within their retention): a join or presence past it is refused
    /// (403), so one channel cannot take a silo's memory (about 0.5 KB per member).
    /// </summary>
    public int MaxMembers { get; set; } = 1_000_000;
}

/// <summary><c>Presence:Subscriptions</c>: what one user may follow (Agora's presence subscriptions).</summary>
public sealed class PresenceSubscriptionOptions
{
    public const string Section = "Presence:Subscriptions";

    /// <summary>Users one user may follow at once; Agora's documented limit is 3,000.</summary>
    public int Max { get; set; } = 3000;
}

/// <summary><c>Presence:Index</c>: the sharded online-user index.</summary>
public sealed class PresenceIndexOptions
{
    public const string Section = "Presence:Index";
    public const int MaxShards = 4096;

    /// <summary>
    /// Logical shards per tenant: how far a tenant's index can spread (a tenant starts in one node holding all of them,
    /// which splits in halves as it grows). Every silo of a cluster must agree; changing it needs a full restart.
    /// </summary>
    public int Shards { get; set; } = 32;

    /// <summary>A node holding more online users than this splits in two halves (while it holds more than one logical shard).</summary>
    public int SplitAt { get; set; } = 2048;

    /// <summary>
    /// Grains that host tenants' roots, many per grain, so a small tenant costs no activation of its own (0: each root
    /// its own grain). Every silo and gateway of a cluster must agree; changing it needs a full restart.
    /// </summary>
    public int Pools { get; set; } = 64;

    /// <summary>
    /// Whether shards store their online users, change log and stream holds as they change, so that a shard
    /// reactivated on any silo, after a crash too, comes back whole. On with PostgreSQL; off in the single-process
    /// in-memory mode, whose storage goes away with the process anyway (and whose updates then cost no serialization).
    /// </summary>
    public bool Persist { get; set; } = true;
}

/// <summary><c>Presence:Storage</c>: how presence is persisted.</summary>
public sealed class PresenceStorageOptions
{
    public const string Section = "Presence:Storage";

    /// <summary>
    /// A refresh that changes nothing but a source's expiry is written to storage only once the expiry has moved by
    /// between half of and all of this (each activation picks its share, so users brought online together do not write
    /// together; capped at a quarter of the source's TTL). Changes of status, sources or profile are always written.
    /// </summary>
    public TimeSpan RefreshCoalesce { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary><c>Presence:Users</c>: how user grains live in memory.</summary>
public sealed class PresenceUserOptions
{
    public const string Section = "Presence:Users";

    /// <summary>
    /// How long a user grain stays activated after its last call. Short on purpose: what an online user needs in
    /// memory (its status timeline) lives in its index shard, so an idle user costs no activation; the next update
    /// reactivates the grain from storage. At least two minutes (Orleans collects idle grains once a minute).
    /// </summary>
    public TimeSpan IdleActivation { get; set; } = TimeSpan.FromMinutes(2);
}
