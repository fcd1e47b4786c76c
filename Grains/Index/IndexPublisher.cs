using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Presence.Grains.Hosting;
using Presence.Index;

namespace Presence.Grains.Index;

/// <summary>
/// Carries user grains' index updates to their shards, one silo-wide outbox per shard. While a call to a shard is
/// in flight, further updates for it queue up and go together in the next call (group commit): at low load each
/// update is one call, under load one call carries many, so the shards never become the bottleneck of updates.
/// A caller's task completes once its update is applied, so a write is listed as soon as it is acknowledged.
/// </summary>
public sealed class IndexPublisher(IGrainFactory grains, IOptions<PresenceIndexOptions> options)
{
    private readonly ConcurrentDictionary<string, ShardOutbox> _outboxes = new(StringComparer.Ordinal);

    public int Shards => options.Value.Shards;

    public Task Publish(string tenant, IndexUpdate update)
    {
        var key = PresenceKeys.ShardKey(tenant, PresenceKeys.ShardOf(update.UserId, Shards));
        var outbox = _outboxes.GetOrAdd(key, static (k, g) => new ShardOutbox(g.GetGrain<IPresenceIndexGrain>(k)), grains);
        return outbox.Post(update);
    }

    private sealed class ShardOutbox(IPresenceIndexGrain shard)
    {
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
                        return;
                    }
                    (batch, applied) = (_pending, _applied);
                    (_pending, _applied) = ([], NewCompletion());
                }
                try
                {
                    await shard.Apply([.. batch]).ConfigureAwait(false);
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
