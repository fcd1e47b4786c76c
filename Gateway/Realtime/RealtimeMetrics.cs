using System.Diagnostics.Metrics;
using Presence.Grains.Hosting;

namespace Presence.Gateway.Realtime;

/// <summary>The gateway's realtime figures, on the service's meter: open streams, deliveries, drops, and grain notifications.</summary>
public sealed class RealtimeMetrics
{
    private readonly UpDownCounter<long> _openStreams;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _notifications;
    private readonly Counter<long> _superseded;
    private long _notificationCount;
    private long _supersededCount;

    public RealtimeMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(PresenceMetrics.MeterName);
        _openStreams = meter.CreateUpDownCounter<long>("presence.open_streams", description: "Realtime streams open on this gateway");
        _deliveries = meter.CreateCounter<long>("presence.event_deliveries", description: "Events queued to realtime streams");
        _dropped = meter.CreateCounter<long>("presence.streams_dropped", description: "Streams dropped because their consumer fell too far behind");
        _notifications = meter.CreateCounter<long>("presence.gateway_notifications", description: "Calls from grains to this gateway carrying changes (one per batch, whatever the number of streams)");
        _superseded = meter.CreateCounter<long>("presence.changes_superseded", description: "User and channel-member changes that arrived after a later change of the same user or member, and were not delivered");
    }

    /// <summary>Grain calls this gateway received with changes (for the fan-out test: per gateway, not per connection).</summary>
    public long Notifications => Interlocked.Read(ref _notificationCount);

    public void StreamOpened(string transport) => _openStreams.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void StreamClosed(string transport) => _openStreams.Add(-1, new KeyValuePair<string, object?>("transport", transport));

    public void Delivered(int count) => _deliveries.Add(count);

    public void Dropped() => _dropped.Add(1);

    /// <summary>Changes that came after a later one of the same user or channel member (Orleans keeps no order between one-way calls).</summary>
    public long SupersededChanges => Interlocked.Read(ref _supersededCount);

    public void Superseded()
    {
        Interlocked.Increment(ref _supersededCount);
        _superseded.Add(1);
    }

    public void Notified()
    {
        Interlocked.Increment(ref _notificationCount);
        _notifications.Add(1);
    }
}
