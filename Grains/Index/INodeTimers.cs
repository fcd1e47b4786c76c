using Microsoft.Extensions.Logging;
using Presence.Grains.Timers;

namespace Presence.Grains.Index;

/// <summary>A host's timer for its index nodes: each node says when it is next due, and is run then.</summary>
internal interface INodeTimers
{
    /// <summary>Runs <see cref="IndexNode.OnTimer"/> at <paramref name="due"/> (MaxValue: never); replaces what the node asked before.</summary>
    void Set(IndexNode node, DateTimeOffset due);
}

/// <summary>
/// One grain timer for all the nodes a grain hosts, due at the earliest of theirs: a pool of many tenants' roots keeps
/// one timer, not one per tenant. Times asked and later replaced are skipped when they come up (and dropped at once
/// when they would outnumber the nodes). A node whose turn fails (its storage did not answer) is tried again
/// <see cref="RetryAfter"/> later, and the others run all the same.
/// </summary>
internal sealed partial class NodeTimers : INodeTimers
{
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private readonly PriorityQueue<IndexNode, DateTimeOffset> _queue = new();
    private readonly Dictionary<IndexNode, DateTimeOffset> _due = new(ReferenceEqualityComparer.Instance);
    private readonly OneShotTimer _timer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public NodeTimers(IGrainBase grain, TimeProvider time, ILogger logger)
        => (_timer, _time, _logger) = (new OneShotTimer(grain, Fire, time, keepAlive: true), time, logger);

    public void Set(IndexNode node, DateTimeOffset due)
    {
        if (due == DateTimeOffset.MaxValue)
        {
            _due.Remove(node);
            return; // its queued time is skipped when it comes up
        }
        if (_due.TryGetValue(node, out var asked) && asked == due)
        {
            return;
        }
        _due[node] = due;
        _queue.Enqueue(node, due);
        if (_queue.Count > 2 * _due.Count + 64)
        {
            _queue.Clear();
            _queue.EnqueueRange(_due.Select(d => (d.Key, d.Value)));
        }
        if (due < _timer.Due)
        {
            _timer.Set(due);
        }
    }

    private async Task Fire(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        List<IndexNode>? ready = null;
        while (_queue.TryPeek(out var node, out var due) && due <= now)
        {
            _queue.Dequeue();
            if (_due.TryGetValue(node, out var asked) && asked == due)
            {
                _due.Remove(node);
                (ready ??= []).Add(node);
            }
        }
        foreach (var node in ready ?? [])
        {
            try
            {
                await node.OnTimer(cancellationToken); // asks for its next time itself
                if (_due.TryGetValue(node, out var again) && again <= now)
                {
                    // A time its turn did not move past would fire at once, again and again while the clock stands.
                    LogAskedForHandledTime(_logger, node.Key, again, RetryAfter);
                    Set(node, _time.GetUtcNow() + RetryAfter);
                }
            }
            catch (Exception error)
            {
                LogTurnFailed(_logger, error, node.Key, RetryAfter);
                Set(node, _time.GetUtcNow() + RetryAfter);
            }
        }
        while (_queue.TryPeek(out var node, out var due) && !(_due.TryGetValue(node, out var asked) && asked == due))
        {
            _queue.Dequeue(); // replaced, or no longer wanted
        }
        _timer.Set(_queue.TryPeek(out _, out var next) ? next : DateTimeOffset.MaxValue);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index node {Shard}: its timed turn failed; tried again in {RetryAfter}")]
    private static partial void LogTurnFailed(ILogger logger, Exception error, string shard, TimeSpan retryAfter);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index node {Shard}: after its timed turn it asked again for {Due}, a time already handled; run again in {RetryAfter} instead")]
    private static partial void LogAskedForHandledTime(ILogger logger, string shard, DateTimeOffset due, TimeSpan retryAfter);
}
