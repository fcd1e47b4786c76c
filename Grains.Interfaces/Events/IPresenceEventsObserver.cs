using Presence.Channels;
using Presence.Index;

namespace Presence.Events;

/// <summary>
/// A gateway process, as grains see it: one observer per gateway, whatever the number of its connections. Grains
/// call it once per batch of changes, one-way (a slow or dead gateway never holds a grain up), and the gateway
/// fans each change out to its own connections.
/// </summary>
[Alias("presence.IPresenceEventsObserver")]
public interface IPresenceEventsObserver : IGrainObserver
{
    /// <summary>Effective-status changes of watched users (offline included), as the index shard saw them.</summary>
    [Alias("OnUserChanges"), OneWay]
    Task OnUserChanges(string tenant, PresenceChange[] changes);

    /// <summary>Presence and membership changes in a watched channel.</summary>
    [Alias("OnChannelChanges"), OneWay]
    Task OnChannelChanges(string tenant, string channelId, ChannelChange[] changes);
}

/// <summary>A gateway's registration with a grain: renewed every <see cref="Renewal"/>, dropped when not renewed for <see cref="Lifetime"/>.</summary>
[GenerateSerializer, Immutable, Alias("presence.GatewayWatch")]
public sealed record GatewayWatch(Guid Gateway, IPresenceEventsObserver Observer)
{
    public static readonly TimeSpan Renewal = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(3);
}

[GenerateSerializer, Alias("presence.ChannelChangeKind")]
public enum ChannelChangeKind
{
    /// <summary>The member's presence in the channel changed (offline included).</summary>
    Presence,

    /// <summary>The user subscribed: watchers of the channel now watch its presence too.</summary>
    Joined,

    /// <summary>The user unsubscribed.</summary>
    Left,
}

/// <summary>
/// One change in a channel, with the member as others see it after the change. A join or leave carries the channel's
/// membership sequence after it (see <see cref="Channels.ChannelWatchResult"/>): a gateway that sees a gap asks for
/// the subscriber set again. A presence change carries how many members are visibly present after it (Stream's
/// watcher count).
/// </summary>
[GenerateSerializer, Immutable, Alias("presence.ChannelChange")]
public sealed record ChannelChange(ChannelChangeKind Kind, ChannelMember Member, DateTimeOffset At, long Sequence = 0, int Present = 0);
