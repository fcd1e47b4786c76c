using Presence.Events;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// What index nodes say to each other as one splits: the half of a node's content one of its halves takes over.
/// Only nodes call it; the silo's own contract, not an edge's.
/// </summary>
[Alias("presence.IIndexNodeGrain")]
public interface IIndexNodeGrain : IGrainWithStringKey
{
    /// <summary>
    /// Takes over <paramref name="content"/> in place of whatever this node held (a split that a crash interrupted is
    /// handed over again, whole), stores it, and holds it from now on.
    /// </summary>
    [Alias("Adopt")]
    Task Adopt(IndexNodeContent content);
}

/// <summary>A node's users, logged changes, gateways' holds and watches in one range of logical shards.</summary>
[GenerateSerializer, Immutable, Alias("presence.IndexNodeContent")]
public sealed record IndexNodeContent(IndexUpdate[] Entries, LoggedChange[] Log, HeldLease[] Holds, WatchedUsers[] Watches);

[GenerateSerializer, Immutable, Alias("presence.HeldLease")]
public sealed record HeldLease(string Source, DateTimeOffset RenewedAt, DateTimeOffset Until);

[GenerateSerializer, Immutable, Alias("presence.WatchedUsers")]
public sealed record WatchedUsers(GatewayWatch Gateway, string[] Users);

/// <summary>A node's own bookkeeping (its collection's head): where it split, if it did.</summary>
[GenerateSerializer, Immutable, Alias("presence.IndexNodeHead")]
public sealed record IndexNodeHead([property: Id(0)] int[]? Cuts);
