namespace Presence.Grains.Timers;

/// <summary>Something the wheel schedules: its key, its next due time, and the bucket the wheel keeps it in.</summary>
internal interface IScheduled : Collections.IKeyed
{
    /// <summary>When it is next due; null when never.</summary>
    DateTimeOffset? NextDue { get; }

    /// <summary>The second of the bucket it sits in, or long.MaxValue; only the wheel sets it.</summary>
    long Bucket { get; set; }
}

/// <summary>
/// Entries (index entries, channel members) bucketed by the whole second of their next due time (rounded up), so
/// moving an entry is O(1), and a shard with a million refreshing users keeps one small bucket per second instead of a
/// heap of stale timers.
/// Emptied buckets are kept for the next seconds (a few, of bounded size): a bucket lives about as long as a TTL, so a
/// new set (and its regrowth) every second would be garbage promoted to the oldest generation before it dies.
/// </summary>
internal sealed class ExpiryWheel<TEntry> where TEntry : class, IScheduled
{
    private const int MaxSpares = 4;
    private const int MaxSpareCapacity = 8192;

    private readonly Dictionary<long, HashSet<string>> _buckets = [];
    // Each second at most once: a bucket emptied and filled again must not queue its second again.
    private readonly PriorityQueue<long, long> _seconds = new();
    private readonly HashSet<long> _queued = [];
    private readonly Stack<HashSet<string>> _spares = new();

    public DateTimeOffset EarliestDue
    {
        get
        {
            while (_seconds.TryPeek(out var second, out _))
            {
                if (_buckets.ContainsKey(second))
                {
                    return DateTimeOffset.FromUnixTimeSeconds(second);
                }
                _queued.Remove(_seconds.Dequeue());
            }
            return DateTimeOffset.MaxValue;
        }
    }

    public void Schedule(TEntry entry)
    {
        var second = entry.NextDue is { } due ? CeilingSecond(due) : long.MaxValue;
        if (second == entry.Bucket)
        {
            return;
        }
        Unschedule(entry);
        if (second == long.MaxValue)
        {
            return;
        }
        if (!_buckets.TryGetValue(second, out var bucket))
        {
            _buckets[second] = bucket = _spares.TryPop(out var spare) ? spare : new HashSet<string>(StringComparer.Ordinal);
            if (_queued.Add(second))
            {
                _seconds.Enqueue(second, second);
            }
        }
        bucket.Add(entry.Key);
        entry.Bucket = second;
    }

    public void Unschedule(TEntry entry)
    {
        if (entry.Bucket != long.MaxValue && _buckets.TryGetValue(entry.Bucket, out var bucket))
        {
            bucket.Remove(entry.Key);
            if (bucket.Count == 0)
            {
                _buckets.Remove(entry.Bucket);
                Spare(bucket);
            }
        }
        entry.Bucket = long.MaxValue;
    }

    /// <summary>
    /// Takes out every bucket whose second is not after the ceiling of <paramref name="now"/>; entries in them that
    /// are not due yet are simply scheduled again by the caller.
    /// </summary>
    public IReadOnlyList<string> TakeDue(DateTimeOffset now)
    {
        var limit = CeilingSecond(now);
        List<string>? due = null;
        while (_seconds.TryPeek(out var second, out _) && second <= limit)
        {
            _queued.Remove(_seconds.Dequeue());
            if (_buckets.Remove(second, out var bucket))
            {
                (due ??= []).AddRange(bucket);
                Spare(bucket);
            }
        }
        return due ?? NoneDue;
    }

    private static readonly List<string> NoneDue = [];

    private void Spare(HashSet<string> bucket)
    {
        if (_spares.Count < MaxSpares && bucket.EnsureCapacity(0) <= MaxSpareCapacity)
        {
            bucket.Clear();
            _spares.Push(bucket);
        }
    }

    private static long CeilingSecond(DateTimeOffset at)
    {
        var ticks = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        return (ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
    }
}
