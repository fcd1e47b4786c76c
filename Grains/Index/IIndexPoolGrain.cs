using Presence.Events;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// A grain hosting the roots of many tenants' indexes (those whose tenant hashes to it, see
/// <see cref="PresenceKeys.PoolOf"/>): each call names the tenant whose root it is for, and means what the same call of
/// <see cref="IPresenceIndexGrain"/> means. Reached through <see cref="IndexNodes"/>, never by an edge.
/// </summary>
[Alias("presence.IIndexPoolGrain")]
public interface IIndexPoolGrain : IGrainWithStringKey
{
    [Alias("Apply")]
    Task<int[]?> Apply(string tenant, IndexUpdate[] updates);

    [Alias("List")]
    Task<IndexSlice> List(string tenant, int shard, string? afterUserId, int count, CancellationToken cancellationToken = default);

    [Alias("Find")]
    Task<IndexFound> Find(string tenant, string userId);

    [Alias("Watch")]
    Task<int[]?> Watch(string tenant, GatewayWatch gateway, string[] add, string[] remove, bool replace);

    [Alias("RenewHold")]
    Task<HoldRenewal> RenewHold(string tenant, string source, TimeSpan lease);

    [Alias("ChangesSince")]
    Task<PresenceChange[]> ChangesSince(string tenant, DateTimeOffset since, CancellationToken cancellationToken = default);
}
