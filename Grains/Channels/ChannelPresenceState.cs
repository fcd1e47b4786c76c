using Presence.Grains.Timers;

namespace Presence.Grains.Channels;

/// <summary>
/// One member of a channel as stored: a row of the channel's collection, keyed by user id (and, before channels were
/// stored by change, an entry of <see cref="ChannelPresenceState"/>). A member is anyone subscribed, present, or seen
/// within <c>Presence:Channels:LastSeenRetention</c>.
/// </summary>
[GenerateSerializer, Alias("presence.ChannelMemberState")]
public sealed class ChannelMemberState : IScheduled
{
    [Id(0)] public UserProfile Profile { get; set; } = UserProfile.Empty;
    [Id(1)] public string? Status { get; set; }
    [Id(2)] public DateTimeOffset? ExpiresAt { get; set; }
    [Id(3)] public DateTimeOffset? LastSeenAt { get; set; }
    [Id(4)] public DateTimeOffset? SubscribedAt { get; set; }

    /// <summary>The user is invisible: others see it offline, last seen at <see cref="HiddenLastSeenAt"/>.</summary>
    [Id(5)] public bool Hidden { get; set; }
    [Id(6)] public DateTimeOffset? HiddenLastSeenAt { get; set; }

    // In memory only, not stored:

    /// <summary>The user id (the row's key).</summary>
    [field: NonSerialized]
    public string Key { get; set; } = "";

    /// <summary>When this member is next due: its presence expires, or (neither subscribed nor present) it is forgotten.</summary>
    [field: NonSerialized]
    public DateTimeOffset? NextDue { get; set; }

    [field: NonSerialized]
    public long Bucket { get; set; } = long.MaxValue;

    public bool IsPresentAt(DateTimeOffset now) => Status is not null && ExpiresAt > now;

    /// <summary>Present as others see it: hidden members never are.</summary>
    public bool IsVisiblyPresentAt(DateTimeOffset now) => !Hidden && IsPresentAt(now);
}

/// <summary>What the channel keeps besides its members: the membership sequence and when its reminder is due.</summary>
[GenerateSerializer, Alias("presence.ChannelHead")]
public sealed class ChannelHead
{
    /// <summary>Counts joins and leaves: a gateway that saw this many holds the current subscriber set.</summary>
    [Id(0)] public long Sequence { get; set; }

    /// <summary>When the channel's expiry reminder is next due; null when none is registered.</summary>
    [Id(1)] public DateTimeOffset? ReminderDue { get; set; }
}

/// <summary>
/// A channel as it was stored before channels were stored by change: the whole member map in one grain-state blob,
/// rewritten on every change. Read once and carried over by the channel's first activation, then cleared.
/// </summary>
[GenerateSerializer, Alias("presence.ChannelPresenceState")]
public sealed class ChannelPresenceState
{
    [Id(0)] public Dictionary<string, ChannelMemberState> Members { get; set; } = [];

    [Id(1)] public DateTimeOffset? ReminderDue { get; set; }
}
