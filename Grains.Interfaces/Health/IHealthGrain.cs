namespace Presence.Health;

/// <summary>Answers if the cluster can run a grain call: the gateway's readiness probe.</summary>
[Alias("presence.IHealthGrain")]
public interface IHealthGrain : IGrainWithIntegerKey
{
    [Alias("Ping")]
    Task<DateTimeOffset> Ping();
}
