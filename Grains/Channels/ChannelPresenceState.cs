namespace Presence.Grains.Channels;

/// <summary>What is stored of a channel: everyone who subscribed to it or set presence in it.</summary>
[GenerateSerializer, Alias("presence.ChannelPresenceState")]
public sealed class ChannelPresenceState
{
    [Id(0)] public Dictionary<string, ChannelMemberState> Members { get; set; } = [];

    /// <summary>When the channel's expiry reminder is next due; null when none is registered.</summary>
    [Id(1)] public DateTimeOffset? ReminderDue { get; set; }
}

[GenerateSerializer, Alias("presence.ChannelMemberState")]
public sealed class ChannelMemberState
{
    [Id(0)] public UserProfile Profile { get; set; } = UserProfile.Empty;
    [Id(1)] public string? Status { get; set; }
    [Id(2)] public DateTimeOffset? ExpiresAt { get; set; }
    [Id(3)] public DateTimeOffset? LastSeenAt { get; set; }
    [Id(4)] public DateTimeOffset? SubscribedAt { get; set; }

    /// <summary>The user is invisible: others see it offline, last seen at <see cref="HiddenLastSeenAt"/>.</summary>
    [Id(5)] public bool Hidden { get; set; }
    [Id(6)] public DateTimeOffset? HiddenLastSeenAt { get; set; }

    public bool IsPresentAt(DateTimeOffset now) => Status is not null && ExpiresAt > now;

    /// <summary>Present as others see it: hidden members never are.</summary>
    public bool IsVisiblyPresentAt(DateTimeOffset now) => !Hidden && IsPresentAt(now);
}
