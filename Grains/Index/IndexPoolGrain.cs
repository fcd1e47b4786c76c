using Presence.Events;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// Hosts the roots of many tenants' indexes (<see cref="IIndexPoolGrain"/>), so a small tenant costs its node and no
/// activation, timer or scheduler of its own: most tenants are small apps. A root is loaded on its tenant's first
/// call (from storage, when nodes persist) and unloaded as soon as it holds nothing and nobody watches its users; the
/// pool keeps itself while any root it hosts is <see cref="IndexNode.Needed"/>, and otherwise goes like any idle grain.
/// A root that grows splits like any node, into grains of their own, and then only passes stale callers on.
/// One timer serves every root it hosts, due at the earliest of theirs (<see cref="NodeTimers"/>).
/// Every few minutes the pool forgets watches whose gateway stopped renewing them, and the roots left with nothing.
/// </summary>
[GrainType("presence-index-pool")]
public sealed class IndexPoolGrain(IndexNodeServices services) : Grain, IIndexPoolGrain
{
    private readonly Dictionary<string, IndexNode> _roots = new(StringComparer.Ordinal);
    private int _needed;
    private IGrainTimer? _sweep;
    private INodeTimers _timers = null!;

    /// <summary>Whether the pool holds the root of <paramref name="tenant"/> loaded (for tests).</summary>
    internal bool Holds(string tenant) => _roots.ContainsKey(tenant);

    /// <summary>Online users of a tenant's root held here (for tests).</summary>
    internal int OnlineCount(string tenant) => _roots.TryGetValue(tenant, out var root) ? root.OnlineCount : 0;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _timers = new NodeTimers(this, services.Time, services.Logger);
        _sweep = this.RegisterGrainTimer(Sweep, new GrainTimerCreationOptions(GatewayWatch.Lifetime, GatewayWatch.Lifetime) { KeepAlive = false });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        foreach (var root in _roots.Values)
        {
            await root.DeactivateAsync();
        }
        _roots.Clear();
    }

    public Task<int[]?> Apply(string tenant, IndexUpdate[] updates) => Call(tenant, root => root.Apply(updates));

    public Task<IndexSlice> List(string tenant, int shard, string? afterUserId, int count, CancellationToken cancellationToken)
        => Call(tenant, root => root.List(shard, afterUserId, count, cancellationToken));

    public Task<IndexFound> Find(string tenant, string userId) => Call(tenant, root => root.Find(userId));

    public Task<int[]?> Watch(string tenant, GatewayWatch gateway, string[] add, string[] remove, bool replace)
        => Call(tenant, root => root.Watch(gateway, add, remove, replace));

    public Task<HoldRenewal> RenewHold(string tenant, string source, TimeSpan lease) => Call(tenant, root => root.RenewHold(source, lease));

    public Task<PresenceChange[]> ChangesSince(string tenant, DateTimeOffset since, CancellationToken cancellationToken)
        => Call(tenant, root => root.ChangesSince(since, cancellationToken));

    /// <summary>Runs a call on the tenant's root, loading it first if needed and unloading it after if it holds nothing.</summary>
    private async Task<T> Call<T>(string tenant, Func<IndexNode, Task<T>> call)
    {
        if (!PresenceKeys.IsValidTenant(tenant))
        {
            throw new ArgumentException($"Not a tenant: {tenant}", nameof(tenant));
        }
        if (!_roots.TryGetValue(tenant, out var root))
        {
            root = new IndexNode(this, PresenceKeys.ShardKey(tenant, 0, services.Options.Value.Shards), services, NeededChanged, _timers);
            _roots.Add(tenant, root);
            try
            {
                await root.ActivateAsync(CancellationToken.None);
            }
            catch
            {
                await Unload(tenant, root);
                throw;
            }
        }
        try
        {
            return await call(root);
        }
        finally
        {
            if (!root.Needed && !root.Watched)
            {
                await Unload(tenant, root);
            }
        }
    }

    private async Task Unload(string tenant, IndexNode root)
    {
        if (_roots.TryGetValue(tenant, out var held) && ReferenceEquals(held, root))
        {
            _roots.Remove(tenant);
            if (root.Needed)
            {
                NeededChanged(root, leaving: true);
            }
            await root.DeactivateAsync();
        }
    }

    private void NeededChanged(IndexNode root) => NeededChanged(root, leaving: false);

    /// <summary>Keeps the pool active while any root it hosts needs it (its users' timelines, its log, holds).</summary>
    private void NeededChanged(IndexNode root, bool leaving)
    {
        var before = _needed;
        _needed += root.Needed && !leaving ? 1 : -1;
        if ((before == 0) != (_needed == 0))
        {
            DelayDeactivation(_needed > 0 ? Timeout.InfiniteTimeSpan : TimeSpan.Zero);
        }
    }

    private async Task Sweep(CancellationToken cancellationToken)
    {
        foreach (var (tenant, root) in _roots.ToList())
        {
            root.DropStaleWatches();
            if (!root.Needed && !root.Watched)
            {
                await Unload(tenant, root);
            }
        }
    }
}
