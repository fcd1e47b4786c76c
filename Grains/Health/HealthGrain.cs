using Presence.Health;

namespace Presence.Grains.Health;

/// <summary>
/// A stateless worker: a readiness probe reaches the nearest silo and touches no storage. One worker answers every
/// probe, and it is not inspected for idle workers (a timer twice a second, for as long as it lives).
/// </summary>
[GrainType("presence-health"), StatelessWorker(1, removeIdleWorkers: false)]
public sealed class HealthGrain(TimeProvider time) : Grain, IHealthGrain
{
    public Task<DateTimeOffset> Ping() => Task.FromResult(time.GetUtcNow());
}
