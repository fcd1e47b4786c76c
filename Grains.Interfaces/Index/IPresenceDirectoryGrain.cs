namespace Presence.Index;

/// <summary>
/// A tenant's view over all its index shards (a stateless worker: any silo, no state, no hot key).
/// Key: the tenant.
/// </summary>
[Alias("presence.IPresenceDirectoryGrain")]
public interface IPresenceDirectoryGrain : IGrainWithStringKey
{
    /// <summary>One page of online users, walking the shards in order from <paramref name="after"/>.</summary>
    [Alias("ListOnline")]
    Task<OnlinePage> ListOnline(DirectoryCursor? after, int count, CancellationToken cancellationToken = default);

    /// <summary>The detailed presence of each of <paramref name="userIds"/>, in that order.</summary>
    [Alias("GetDetails")]
    Task<Users.PresenceDetail[]> GetDetails(string[] userIds, CancellationToken cancellationToken = default);

    /// <summary>Every change of the tenant since <paramref name="since"/>, oldest first.</summary>
    [Alias("ChangesSince")]
    Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken = default);
}

/// <summary>Where a listing stopped: the next page starts in <see cref="Shard"/> after <see cref="AfterUserId"/>.</summary>
[GenerateSerializer, Immutable, Alias("presence.DirectoryCursor")]
public sealed record DirectoryCursor(int Shard, string? AfterUserId);

/// <summary>Next null: nothing after this page.</summary>
[GenerateSerializer, Immutable, Alias("presence.OnlinePage")]
public sealed record OnlinePage(OnlineUser[] Users, DirectoryCursor? Next);
