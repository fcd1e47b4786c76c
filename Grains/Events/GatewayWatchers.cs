using Presence.Events;

namespace Presence.Grains.Events;

/// <summary>
/// The gateways watching a grain, each until it stops renewing (<see cref="GatewayWatch.Lifetime"/>): a gateway
/// that died is forgotten without anyone telling. Liveness runs on the machine's clock, not on presence time.
/// </summary>
internal sealed class GatewayWatchers
{
    private readonly Dictionary<Guid, Entry> _gateways = [];

    public int Count => _gateways.Count;

    public void Renew(GatewayWatch watch) => _gateways[watch.Gateway] = new Entry(watch.Observer, Environment.TickCount64);

    public bool Remove(Guid gateway) => _gateways.Remove(gateway);

    /// <summary>The gateways still renewing; the others are dropped.</summary>
    public List<IPresenceEventsObserver> Live()
    {
        var horizon = Environment.TickCount64 - (long)GatewayWatch.Lifetime.TotalMilliseconds;
        var live = new List<IPresenceEventsObserver>(_gateways.Count);
        List<Guid>? stale = null;
        foreach (var (gateway, entry) in _gateways)
        {
            if (entry.RenewedAt < horizon)
            {
                (stale ??= []).Add(gateway);
            }
            else
            {
                live.Add(entry.Observer);
            }
        }
        stale?.ForEach(g => _gateways.Remove(g));
        return live;
    }

    private readonly record struct Entry(IPresenceEventsObserver Observer, long RenewedAt);
}
