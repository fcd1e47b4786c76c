using Presence.Index;
using Presence.Users;

namespace Presence.Tests.Support;

/// <summary>Index node calls as tests of one node make them: from its first logical shard, the view alone, the lease's answer alone.</summary>
internal static class IndexNodeCalls
{
    public static Task<IndexSlice> List(this IPresenceIndexGrain node, string? afterUserId, int count) => node.List(0, afterUserId, count);

    public static async Task<UserPresence?> FindView(this IPresenceIndexGrain node, string userId) => (await node.Find(userId)).View;

    public static async Task<bool> RenewHoldAlive(this IPresenceIndexGrain node, string source, TimeSpan lease) => (await node.RenewHold(source, lease)).Alive;
}
