using Presence.Index;
using Presence.Users;

namespace Presence.Client;

/// <summary>
/// The presence grains as an edge (a gateway) calls them. Which index shard holds a user, how grain references are
/// kept, and whether a read can be answered without a grain call are the grains' business: an edge asks here and
/// knows grain contracts only.
/// </summary>
public interface IPresenceGrains
{
    /// <summary>The user's grain (a reference reused across calls).</summary>
    IUserPresenceGrain User(string tenant, string userId);

    /// <summary>
    /// A user's presence (<paramref name="own"/>: as the user itself sees it). An online, visible user is answered by
    /// its index shard, without a grain call when that shard is active in this process; only the rest (offline,
    /// invisible) is asked of the user's grain.
    /// </summary>
    ValueTask<UserPresence> Get(string tenant, string userId, bool own, CancellationToken cancellationToken);

    /// <summary>
    /// The index node holding <paramref name="userId"/> of <paramref name="tenant"/>, as far as this process knows
    /// (nodes split as tenants grow: a node that split passes calls on, and the answer teaches this process where).
    /// </summary>
    IndexShard ShardOf(string tenant, string userId);

    /// <summary>One page of a tenant's online users, walking its index from this process (as <see cref="IPresenceDirectoryGrain.ListOnline"/>).</summary>
    Task<OnlinePage> ListOnline(string tenant, DirectoryCursor? after, int count, CancellationToken cancellationToken);

    /// <summary>Every change of a tenant since <paramref name="since"/>, oldest first (as <see cref="IPresenceDirectoryGrain.ChangesSince"/>).</summary>
    Task<PresenceChange[]> ChangesSince(string tenant, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>The detailed presence of each of <paramref name="userIds"/>, in that order.</summary>
    Task<PresenceDetail[]> GetDetails(string tenant, string[] userIds, CancellationToken cancellationToken);

    /// <summary>Adds and removes users a gateway watches in a node (see <see cref="IPresenceIndexGrain.Watch"/>).</summary>
    Task WatchAsync(IndexShard shard, Events.GatewayWatch gateway, string[] add, string[] remove, bool replace);

    /// <summary>Renews a gateway's stream hold with a node; false when the node did not know it alive (see <see cref="IPresenceIndexGrain.RenewHold"/>).</summary>
    Task<bool> RenewHoldAsync(IndexShard shard, string source, TimeSpan lease);
}

/// <summary>
/// Names one index node of a tenant, holding logical shards [<see cref="Lo"/>, <see cref="Hi"/>): equal for users
/// held by the same node, a key for grouping them.
/// </summary>
public readonly record struct IndexShard(string Tenant, int Lo, int Hi)
{
    public bool Contains(int shard) => shard >= Lo && shard < Hi;

    public override string ToString() => Model.PresenceKeys.ShardKey(Tenant, Lo, Hi);
}
