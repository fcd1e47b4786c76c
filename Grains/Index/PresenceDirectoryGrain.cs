using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// Lists a tenant's online users by walking its index shards in order. A stateless worker: it runs next to its
/// caller, holds nothing, and so is never a hot spot. A page usually needs one shard; when a shard runs out, the
/// next few are asked in parallel so small tenants (many nearly empty shards) still list in one round trip.
/// </summary>
[GrainType("presence-directory"), StatelessWorker]
public sealed class PresenceDirectoryGrain(IGrainFactory grains, IndexPublisher index) : Grain, IPresenceDirectoryGrain
{
    private const int ParallelShards = 8;

    /// <summary>How long an idle directory activation stays: it holds nothing, so a tenant that stopped listing costs nothing soon.</summary>
    public static readonly TimeSpan IdleFor = TimeSpan.FromMinutes(2);

    private string Tenant => this.GetPrimaryKeyString();

    public async Task<OnlinePage> ListOnline(DirectoryCursor? after, int count, CancellationToken cancellationToken)
    {
        var shards = index.Shards;
        var shard = after?.Shard ?? 0;
        var users = new List<OnlineUser>(count);
        if (shard < 0 || shard >= shards || count <= 0)
        {
            return new OnlinePage([], null);
        }

        var first = await Shard(shard).List(after?.AfterUserId, count, cancellationToken);
        var taken = Take(first, users, count, shard, out var next);
        if (taken)
        {
            return new OnlinePage([.. users], next);
        }

        for (var start = shard + 1; start < shards; start += ParallelShards)
        {
            var window = Enumerable.Range(start, Math.Min(ParallelShards, shards - start)).ToArray();
            var need = count - users.Count;
            var slices = await Task.WhenAll(window.Select(s => Shard(s).List(null, need, cancellationToken)));
            for (var i = 0; i < window.Length; i++)
            {
                if (Take(slices[i], users, count, window[i], out next))
                {
                    return new OnlinePage([.. users], next);
                }
            }
        }
        return new OnlinePage([.. users], null);

        // True when the page is full; then `cursor` says where the next page starts (null: nothing after it).
        bool Take(IndexSlice slice, List<OnlineUser> page, int limit, int from, out DirectoryCursor? cursor)
        {
            var room = limit - page.Count;
            var part = slice.Users.Length <= room ? slice.Users : slice.Users[..room];
            page.AddRange(part);
            cursor = null;
            if (page.Count < limit)
            {
                return false;
            }
            if (part.Length < slice.Users.Length || slice.More)
            {
                cursor = new DirectoryCursor(from, part[^1].UserId);
            }
            else if (from + 1 < shards)
            {
                cursor = new DirectoryCursor(from + 1, null);
            }
            return true;
        }
    }

    public Task<PresenceDetail[]> GetDetails(string[] userIds, CancellationToken cancellationToken)
        => Task.WhenAll(userIds.Select(id => grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(Tenant, id)).GetDetail(false, cancellationToken)));

    public async Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var all = await Task.WhenAll(Enumerable.Range(0, index.Shards).Select(s => Shard(s).ChangesSince(since, cancellationToken)));
        return [.. all.SelectMany(c => c).OrderBy(c => c.At)];
    }

    private IPresenceIndexGrain Shard(int shard) => grains.GetGrain<IPresenceIndexGrain>(PresenceKeys.ShardKey(Tenant, shard));
}
