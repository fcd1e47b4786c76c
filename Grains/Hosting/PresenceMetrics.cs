using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Presence.Grains.Hosting;

/// <summary>
/// The service's own meter, "Orleans.Presence": presence updates, expirations, rate-limited calls, and the online
/// users of each tenant held by this silo's index shards (summed over silos by whoever scrapes them).
/// </summary>
public sealed class PresenceMetrics
{
    public const string MeterName = "Orleans.Presence";

    private readonly Counter<long> _updates;
    private readonly Counter<long> _expirations;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _eventBatches;
    // Online users per index shard activated on this silo: shard key -> (tenant, count).
    private readonly ConcurrentDictionary<string, (string Tenant, int Count)> _shards = new(StringComparer.Ordinal);

    public PresenceMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _updates = meter.CreateCounter<long>("presence.updates", description: "Presence updates applied (every source, every dialect)");
        _expirations = meter.CreateCounter<long>("presence.expirations", description: "Users who went offline because their presence expired");
        _rateLimited = meter.CreateCounter<long>("presence.rate_limited", description: "Calls refused by a per-app call limit");
        _eventBatches = meter.CreateCounter<long>("presence.event_batches", description: "Batches of changes sent to gateways: one per gateway per batch, never one per connection");
        meter.CreateObservableGauge("presence.online_users", ObserveOnline, description: "Users online, per tenant, in this silo's index shards");
    }

    public void Updated() => _updates.Add(1);

    public void Expired(int count) => _expirations.Add(count);

    public void EventBatchSent() => _eventBatches.Add(1);

    public void RateLimited(string tenant) => _rateLimited.Add(1, new KeyValuePair<string, object?>("tenant", tenant));

    /// <summary>An index shard reports how many users it holds (0 when it is deactivated).</summary>
    public void ShardOnline(string shardKey, string tenant, int count)
    {
        if (count == 0)
        {
            _shards.TryRemove(shardKey, out _);
        }
        else
        {
            _shards[shardKey] = (tenant, count);
        }
    }

    private IEnumerable<Measurement<long>> ObserveOnline() => _shards.Values
        .GroupBy(s => s.Tenant, StringComparer.Ordinal)
        .Select(g => new Measurement<long>(g.Sum(s => s.Count), new KeyValuePair<string, object?>("tenant", g.Key)));
}
