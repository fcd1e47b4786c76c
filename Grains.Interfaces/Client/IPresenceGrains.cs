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

    /// <summary>The index shard holding <paramref name="userId"/> of <paramref name="tenant"/>.</summary>
    IndexShard ShardOf(string tenant, string userId);

    /// <summary>The grain of an index shard (a reference reused across calls).</summary>
    IPresenceIndexGrain Shard(IndexShard shard);
}

/// <summary>Names one index shard of a tenant: equal for users held by the same shard, a key for grouping them.</summary>
public readonly record struct IndexShard(string Tenant, int Number)
{
    public override string ToString() => Model.PresenceKeys.ShardKey(Tenant, Number);
}
