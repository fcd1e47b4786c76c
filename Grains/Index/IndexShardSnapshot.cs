using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>An index shard as an earlier version stored it at deactivation (one blob): read once by the shard's first activation, carried over as rows, then cleared.</summary>
[GenerateSerializer, Alias("presence.IndexShardSnapshot")]
public sealed class IndexShardSnapshot
{
    /// <summary>Each online user as the update that would recreate it, with its remaining timeline.</summary>
    [Id(0)] public IndexUpdate[] Entries { get; set; } = [];

    [Id(1)] public PresenceChange[] Log { get; set; } = [];

    /// <summary>Stream holds of gateways (by source): when each was last renewed, and when its lease ends.</summary>
    [Id(2)] public Dictionary<string, HoldLeaseSnapshot> Holds { get; set; } = [];
}

[GenerateSerializer, Alias("presence.HoldLeaseSnapshot")]
public sealed class HoldLeaseSnapshot
{
    [Id(0)] public DateTimeOffset RenewedAt { get; set; }

    [Id(1)] public DateTimeOffset Until { get; set; }
}
