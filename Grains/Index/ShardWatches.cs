using Presence.Events;
using Presence.Grains.Hosting;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// The gateways watching users of a shard, and for each watched user the gateways that watch it. Changes of watched
/// users are queued per gateway and sent in one one-way call per gateway per batch, so the cost of a change grows
/// with gateways, never with connections. A gateway that stops renewing (it died) is forgotten; liveness runs on the
/// machine's clock, not on presence time.
/// </summary>
internal sealed class ShardWatches
{
    // Made on the first watch: a node nobody watches (most of them) holds neither.
    private Dictionary<Guid, Watch> _watches = Empty;
    private Dictionary<string, List<Watch>> _watchersOf = NoWatchers;

    // Never written: a node's maps until its first watch.
    private static readonly Dictionary<Guid, Watch> Empty = [];
    private static readonly Dictionary<string, List<Watch>> NoWatchers = [];

    /// <summary>Adds and removes users a gateway watches (<paramref name="replace"/>: the whole set, as a renewal sends it).</summary>
    public void Update(GatewayWatch gateway, string[] add, string[] remove, bool replace)
    {
        if (ReferenceEquals(_watches, Empty))
        {
            (_watches, _watchersOf) = ([], new(StringComparer.Ordinal));
        }
        if (!_watches.TryGetValue(gateway.Gateway, out var watch))
        {
            _watches.Add(gateway.Gateway, watch = new Watch(gateway.Gateway));
        }
        watch.Observer = gateway.Observer;
        watch.RenewedAt = Environment.TickCount64;
        if (replace)
        {
            var keep = new HashSet<string>(add, StringComparer.Ordinal);
            foreach (var userId in watch.Users.Where(u => !keep.Contains(u)).ToList())
            {
                Unlink(watch, userId);
            }
        }
        foreach (var userId in remove)
        {
            Unlink(watch, userId);
        }
        foreach (var userId in add)
        {
            if (watch.Users.Add(userId))
            {
                if (!_watchersOf.TryGetValue(userId, out var list))
                {
                    _watchersOf.Add(userId, list = new List<Watch>(1));
                }
                list.Add(watch);
            }
        }
        if (watch.Users.Count == 0)
        {
            _watches.Remove(gateway.Gateway);
        }
        DropStale();
    }

    /// <summary>Whether any gateway watches users here.</summary>
    public bool Any => _watches.Count > 0;

    /// <summary>Whether a gateway watches <paramref name="userId"/> (the map read is changed only by watches and their lapsing).</summary>
    public bool Watches(string userId) => _watchersOf.ContainsKey(userId);

    /// <summary>Each watching gateway with the users it watches that <paramref name="include"/> accepts.</summary>
    public IEnumerable<(GatewayWatch Gateway, string[] Users)> Export(Func<string, bool> include)
    {
        foreach (var watch in _watches.Values)
        {
            if (watch.Observer is { } observer && watch.Users.Where(include).ToArray() is { Length: > 0 } users)
            {
                yield return (new GatewayWatch(watch.Gateway, observer), users);
            }
        }
    }

    /// <summary>Queues the changes of watched users for their gateways; a burst of one user's changes goes as its latest.</summary>
    public void Queue(List<LoggedChange> changes)
    {
        if (_watchersOf.Count == 0)
        {
            return;
        }
        foreach (var logged in changes)
        {
            if (_watchersOf.TryGetValue(logged.Change.UserId, out var watchers))
            {
                foreach (var watch in watchers)
                {
                    (watch.Outgoing ??= new Dictionary<string, PresenceChange>(StringComparer.Ordinal))[logged.Change.UserId] = logged.Change;
                }
            }
        }
    }

    /// <summary>Sends what was queued: one one-way call per gateway.</summary>
    public void Send(string tenant, PresenceMetrics metrics)
    {
        foreach (var watch in _watches.Values)
        {
            if (watch.Outgoing is { Count: > 0 } outgoing)
            {
                watch.Outgoing = null;
                _ = watch.Observer!.OnUserChanges(tenant, [.. outgoing.Values]);
                metrics.EventBatchSent();
            }
        }
    }

    /// <summary>Forgets gateways that stopped renewing.</summary>
    public void DropStale()
    {
        var horizon = Environment.TickCount64 - (long)GatewayWatch.Lifetime.TotalMilliseconds;
        List<Watch>? stale = null;
        foreach (var watch in _watches.Values)
        {
            if (watch.RenewedAt < horizon)
            {
                (stale ??= []).Add(watch);
            }
        }
        foreach (var watch in stale ?? [])
        {
            foreach (var userId in watch.Users.ToList())
            {
                Unlink(watch, userId);
            }
            _watches.Remove(watch.Gateway);
        }
    }

    private void Unlink(Watch watch, string userId)
    {
        if (watch.Users.Remove(userId) && _watchersOf.TryGetValue(userId, out var list))
        {
            list.Remove(watch);
            if (list.Count == 0)
            {
                _watchersOf.Remove(userId);
            }
        }
    }

    private sealed class Watch(Guid gateway)
    {
        public Guid Gateway { get; } = gateway;
        public IPresenceEventsObserver? Observer { get; set; }
        public long RenewedAt { get; set; }
        public HashSet<string> Users { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, PresenceChange>? Outgoing { get; set; }
    }
}
