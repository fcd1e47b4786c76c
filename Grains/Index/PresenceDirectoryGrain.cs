using Presence.Client;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// Lists a tenant's online users by walking its index nodes in the order of their logical shards (see
/// <see cref="IndexLayout"/>). A stateless worker: it runs next to its caller, holds nothing, and so is never a hot
/// spot. A small tenant is one node, so one call; a page of a large one usually needs one node.
/// </summary>
[GrainType("presence-directory"), StatelessWorker]
public sealed class PresenceDirectoryGrain(IGrainFactory grains, IndexLayout layout, IndexNodes nodes) : Grain, IPresenceDirectoryGrain
{
    /// <summary>How long an idle directory activation stays: it holds nothing, so a tenant that stopped listing costs nothing soon.</summary>
    public static readonly TimeSpan IdleFor = TimeSpan.FromMinutes(2);

    private string Tenant => this.GetPrimaryKeyString();

    public async Task<OnlinePage> ListOnline(DirectoryCursor? after, int count, CancellationToken cancellationToken)
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
            var node = layout.LeafOf(Tenant, shard);
            var slice = await nodes.List(node, shard, afterUserId, count - users.Count, cancellationToken);
            if (slice.Cuts is not null)
            {
                layout.Learn(Tenant, slice.Cuts);
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

    public Task<PresenceDetail[]> GetDetails(string[] userIds, CancellationToken cancellationToken)
        => Task.WhenAll(userIds.Select(id => grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(Tenant, id)).GetDetail(false, cancellationToken)));

    public async Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var all = await Task.WhenAll(layout.Leaves(Tenant).Select(n => nodes.ChangesSince(n, since, cancellationToken)));
        return [.. all.SelectMany(c => c).OrderBy(c => c.At)];
    }
}
