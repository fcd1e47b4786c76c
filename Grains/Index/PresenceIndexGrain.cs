using Microsoft.Extensions.Options;
using Presence.Client;
using Presence.Events;
using Presence.Grains.Hosting;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// The grain of one index node (<see cref="IndexNode"/>) that is not a pooled root: a half of a tenant that grew. It
/// lives while its node is <see cref="IndexNode.Needed"/>, then goes like any idle grain, after <see cref="IdleFor"/>
/// without a call: a gateway watching its users renews that watch more often than this, so no watch is lost.
/// Addressed by a tenant's root key while roots live in pools (a caller of an earlier version, an operator's tool),
/// it holds nothing and passes every call on to the root's pool.
/// </summary>
[GrainType("presence-index")]
public sealed class PresenceIndexGrain(IndexNodeServices services, IndexNodes nodes) : Grain, IPresenceIndexGrain, IIndexNodeGrain
{
    /// <summary>How long an idle node's grain (or pool) stays without a call: longer than a gateway waits between renewals of its watches.</summary>
    public static readonly TimeSpan IdleFor = GatewayWatch.Lifetime;

    private IndexNode? _node;
    // Set instead of the node for a pooled root: the tenant, and the pool hosting its root.
    private string _tenant = "";
    private IIndexPoolGrain? _pool;

    /// <summary>Users held right now (for tests that check what the timer did without calling the grain).</summary>
    internal int OnlineCount => _node?.OnlineCount ?? 0;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var (tenant, id) = PresenceKeys.Split(key);
        if (PresenceKeys.TryParseShardRange(id, out var lo, out var hi) && nodes.Pooled(new IndexShard(tenant, lo, hi)))
        {
            (_tenant, _pool) = (tenant, nodes.PoolOf(tenant));
            return Task.CompletedTask;
        }
        _node = new IndexNode(this, key, services, node => DelayDeactivation(node.Needed ? Timeout.InfiniteTimeSpan : TimeSpan.Zero),
            new NodeTimers(this, services.Time, services.Logger));
        return _node.ActivateAsync(cancellationToken);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
        => _node?.DeactivateAsync() ?? Task.CompletedTask;

    public Task<int[]?> Apply(IndexUpdate[] updates) => _node?.Apply(updates) ?? _pool!.Apply(_tenant, updates);

    public Task<IndexSlice> List(int shard, string? afterUserId, int count, CancellationToken cancellationToken)
        => _node?.List(shard, afterUserId, count, cancellationToken) ?? _pool!.List(_tenant, shard, afterUserId, count, cancellationToken);

    public Task<IndexFound> Find(string userId) => _node?.Find(userId) ?? _pool!.Find(_tenant, userId);

    public Task<int[]?> Watch(GatewayWatch gateway, string[] add, string[] remove, bool replace)
        => _node?.Watch(gateway, add, remove, replace) ?? _pool!.Watch(_tenant, gateway, add, remove, replace);

    public Task<HoldRenewal> RenewHold(string source, TimeSpan lease) => _node?.RenewHold(source, lease) ?? _pool!.RenewHold(_tenant, source, lease);

    public Task<PresenceChange[]> ChangesSince(DateTimeOffset since, CancellationToken cancellationToken)
        => _node?.ChangesSince(since, cancellationToken) ?? _pool!.ChangesSince(_tenant, since, cancellationToken);

    public Task Adopt(IndexNodeContent content)
        => _node?.Adopt(content) ?? throw new InvalidOperationException($"A tenant's root takes over nothing: {this.GetPrimaryKeyString()}");
}
