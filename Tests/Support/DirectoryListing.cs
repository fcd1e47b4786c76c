using Presence.Index;
using Presence.Users;

namespace Presence.Tests.Support;

/// <summary>A tenant's whole list of online users, as a client walks it: page by page, cursor to cursor.</summary>
internal static class DirectoryListing
{
    public static async Task<List<OnlineUser>> ListAll(this IPresenceDirectoryGrain directory, int pageSize)
    {
        var listed = new List<OnlineUser>();
        DirectoryCursor? cursor = null;
        do
        {
            var page = await directory.ListOnline(cursor, pageSize);
            listed.AddRange(page.Users);
            cursor = page.Next;
        }
        while (cursor is not null);
        return listed;
    }

    /// <summary>A tenant's whole list (walked in pages of 5): each listed user's status.</summary>
    public static async Task<Dictionary<string, string?>> ListedStatuses(this IGrainFactory grains, string tenant)
        => (await grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListAll(5)).ToDictionary(u => u.UserId, u => (string?)u.Status);

    /// <summary>
    /// Whether a tenant's list (walked in pages of 5) holds exactly the users of <paramref name="ids"/> whose grains say
    /// they are online, each with the status its grain gives.
    /// </summary>
    public static async Task<bool> ListsAsGrainsSay(this IGrainFactory grains, string tenant, IEnumerable<string> ids)
    {
        var expected = new Dictionary<string, string?>();
        foreach (var id in ids)
        {
            var view = await grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id)).Get();
            if (view.Status != PresenceStatus.Offline)
            {
                expected.Add(id, view.Status);
            }
        }
        var listed = await grains.ListedStatuses(tenant);
        return expected.Count == listed.Count && expected.All(e => listed.TryGetValue(e.Key, out var status) && status == e.Value);
    }
}
