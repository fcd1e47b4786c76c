using System.Collections.Concurrent;
using Presence.Client;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// Carries user grains' index updates to their index nodes (see <see cref="IndexLayout"/>), one silo-wide outbox per
/// node while it has updates to carry. While a call to a node is in flight, further updates for it queue up and go
/// together in the next call (group commit): at low load each update is one call, under load one call carries many,
/// so the nodes never become the bottleneck of updates. A caller's task completes once its update is applied, so a
/// write is listed as soon as it is acknowledged. An update whose node is active in this process is applied there and
/// then, without a call, when the node can take it between its turns (<see cref="IndexNode.TryApplyHere"/>): in one
/// process (the default deployment) an update costs the user grain's call alone.
/// </summary>
public sealed class IndexPublisher(IndexNodes nodes, IndexLayout layout, LocalIndexShards local)
{
    /// <summary>Idle outboxes kept (beyond them, one that empties goes): enough for every node of a busy silo.</summary>
    private const int KeptIdle = 4096;

    private readonly ConcurrentDictionary<IndexShard, ShardOutbox> _outboxes = new();
    private readonly IndexNodes _nodes = nodes;
    private readonly IndexLayout _layout = layout;
    // How many outboxes are kept, counted here: a concurrent dictionary's own count takes every one of its locks.
    private int _count;

    public Task Publish(string tenant, IndexUpdate update)
    {
        var shard = PresenceKeys.ShardOf(update.UserId, _layout.Shards);
        if (local.NodeOf(tenant, shard) is { } here && here.TryApplyHere(update))
        {
            return Task.CompletedTask;
        }
        var node = _layout.LeafOf(tenant, shard);
        if (!_outboxes.TryGetValue(node, out var outbox))
        {
            var made = new ShardOutbox(this, node);
            outbox = _outboxes.GetOrAdd(node, made);
            if (ReferenceEquals(outbox, made))
            {
                Interlocked.Increment(ref _count);
            }
        }
        return outbox.Post(update);
    }

    /// <summary>
    /// Forgets an outbox that has nothing left to carry, once many are kept: tenants that went quiet cost nothing
    /// here. An update posted to it meanwhile is still carried (by the outbox it was posted to; the next gets a new one).
    /// </summary>
    private void Idle(ShardOutbox outbox)
    {
        if (Volatile.Read(ref _count) > KeptIdle && ((ICollection<KeyValuePair<IndexShard, ShardOutbox>>)_outboxes).Remove(new(outbox.Node, outbox)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private sealed class ShardOutbox(IndexPublisher publisher, IndexShard node)
    {
        public IndexShard Node => node;

        private readonly Lock _lock = new();
        private List<IndexUpdate> _pending = [];
        private TaskCompletionSource _applied = NewCompletion();
        private bool _sending;

        public Task Post(IndexUpdate update)
        {
            lock (_lock)
            {
                _pending.Add(update);
                var applied = _applied.Task;
                if (!_sending)
                {
                    _sending = true;
                    // Task.Run: the loop must not run on the scheduler of the grain that happened to post first.
                    _ = Task.Run(SendLoop);
                }
                return applied;
            }
        }

        private async Task SendLoop()
        {
            while (true)
            {
                List<IndexUpdate> batch;
                TaskCompletionSource applied;
                lock (_lock)
                {
                    if (_pending.Count == 0)
                    {
                        _sending = false;
                        publisher.Idle(this);
                        return;
                    }
                    (batch, applied) = (_pending, _applied);
                    (_pending, _applied) = ([], NewCompletion());
                }
                try
                {
                    publisher._layout.Learn(node.Tenant, await publisher._nodes.Apply(node, [.. batch]).ConfigureAwait(false));
                    applied.SetResult();
                }
                catch (Exception error)
                {
                    applied.SetException(error);
                }
            }
        }

        private static TaskCompletionSource NewCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
