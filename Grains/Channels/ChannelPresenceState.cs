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

    public bool IsPresentAt(DateTimeOffset now) => Status is not null && ExpiresAt > now;
}
