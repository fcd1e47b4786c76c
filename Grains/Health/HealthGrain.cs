using Presence.Health;

namespace Presence.Grains.Health;

/// <summary>A stateless worker: a readiness probe reaches the nearest silo and touches no storage.</summary>
[GrainType("presence-health"), StatelessWorker]
public sealed class HealthGrain(TimeProvider time) : Grain, IHealthGrain
{
    public Task<DateTimeOffset> Ping() => Task.FromResult(time.GetUtcNow());
}
