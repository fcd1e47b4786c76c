using Presence.Client;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// A tenant's index as a whole: its online users page by page, walking its nodes in the order of their logical shards
/// (see <see cref="IndexLayout"/>), and its changes since a time. Runs in the caller's process (an edge's
/// <see cref="PresenceGrains"/>, or the directory grain), holds nothing: a small tenant is one node, so one call; a
/// page of a large one usually needs one node.
/// </summary>
public sealed class IndexDirectory(IndexLayout layout, IndexNodes nodes)
{
    public async Task<OnlinePage> ListOnline(string tenant, DirectoryCursor? after, int count, CancellationToken cancellationToken)
    {
        var shards = layout.Shards;
        var shard = after?.Shard ?? 0;
        var afterUserId = after?.AfterUserId;
        if (shard < 0 || shard >= shards || count <= 0)
        {
            return new OnlinePage([], null);
        }
        var users = new List<OnlineUser>(Math.Min(count, 1024));
        // Each answer of a node that split teaches at least one cut: the walk learns the layout at most once per cut.
        for (var asked = 0; shard < shards && asked <= 2 * shards; asked++)
        {
            var node = layout.LeafOf(tenant, shard);
            var slice = await nodes.List(node, shard, afterUserId, count - users.Count, cancellationToken);
            if (slice.Cuts is not null)
            {
                layout.Learn(tenant, slice.Cuts);
                continue;
            }
            users.AddRange(slice.Users);
            if (users.Count >= count)
            {
                var last = users[^1];
                var next = slice.More ? new DirectoryCursor(PresenceKeys.ShardOf(last.UserId, shards), last.UserId)
                    : node.Hi < shards ? new DirectoryCursor(node.Hi, null)
                    : null;
                return new OnlinePage([.. users], next);
            }
            (shard, afterUserId) = (node.Hi, null);
        }
        return new OnlinePage([.. users], null);
    }

    public async Task<PresenceChange[]> ChangesSince(string tenant, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var all = await Task.WhenAll(layout.Leaves(tenant).Select(n => nodes.ChangesSince(n, since, cancellationToken)));
        return [.. all.SelectMany(c => c).OrderBy(c => c.At)];
    }
}

/// <summary>
/// <see cref="IPresenceDirectoryGrain"/>: a tenant's <see cref="IndexDirectory"/> as a grain, for callers of that
/// contract. Edges in this repository ask <see cref="PresenceGrains"/>, which walks the index from their own process:
/// a stateless worker per tenant is a context per tenant. Its idle workers are not inspected (that is a timer per
/// context, twice a second); the activation goes when collection finds it idle, like any other.
/// </summary>
[GrainType("presence-directory"), StatelessWorker(-1, removeIdleWorkers: false)] // -1: a worker per core at most
public sealed class PresenceDirectoryGrain(IGrainFactory grains, IndexDirectory directory) : Grain, IPresenceDirectoryGrain
{
    /// <summary>How long an idle directory activation stays: it holds nothing, so a tenant that stopped listing costs nothing soon.</summary>
    public static readonly TimeSpan IdleFor = TimeSpan.FromMinutes(2);

    private string Tenant => this.GetPrimaryKeyString();

    public Task<OnlinePage> ListOnline(DirectoryCursor? after, int count, CancellationToken cancellationToken)
        => directory.ListOnline(Tenant, after, count, cancellationToken);

    public Task<PresenceDetail[]> GetDetails(string[] userIds, CancellationToken cancellationToken)
        => Task.WhenAll(userIds.Select(id => grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(Tenant, id)).GetDetail(false, cancellationToken)));

    public Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
        => directory.ChangesSince(Tenant, since, cancellationToken);
}
