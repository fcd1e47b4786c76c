using Presence.Index;

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
}
