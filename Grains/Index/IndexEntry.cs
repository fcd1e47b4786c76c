using Presence.Grains.Timers;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Index;

/// <summary>
/// One online user in its index shard: what others see of it, and the timeline its user grain computed, so the shard
/// alone moves it through its expiries. Changed only in the shard's turns, between <see cref="BeginChange"/> and
/// <see cref="EndChange"/> (a sequence number, odd while a change is under way), so readers on other threads
/// (<see cref="LocalIndexShards"/>) see it as it was between two changes or try again.
/// </summary>
internal sealed class IndexEntry(string userId, int shard) : IScheduled
{
    public string UserId { get; } = userId;
    public string Key => UserId;

    /// <summary>The user's logical shard: entries are ordered by it, then by id.</summary>
    public int Group { get; } = shard;
    public long Version { get; set; }
    public UserProfile Profile { get; set; } = UserProfile.Empty;
    public DateTimeOffset? LastSeenAt { get; set; }
    public string Status { get; set; } = PresenceStatus.Online;
    public string? StatusText { get; set; }
    public StatusStep[] Steps { get; set; } = [];
    public int NextStep { get; set; }

    /// <summary>Stream holds among what keeps the user online (see <see cref="IPresenceIndexGrain.RenewHold"/>).</summary>
    public string[]? Holds { get; set; }

    public long Bucket { get; set; } = long.MaxValue;

    public DateTimeOffset? NextDue => NextStep < Steps.Length ? Steps[NextStep].At : null;

    /// <summary>Removed from its shard: a reader still holding the entry reads the user as not listed.</summary>
    public bool Gone { get; set; }

    /// <summary>
    /// Moved by a refresh since its row was written (shards that persist): written with the shard's next periodic write
    /// of refreshes, or when the shard deactivates.
    /// </summary>
    public bool Unsaved { get; set; }

    // Odd while the shard's turn changes what a reader reads (a seqlock); a new entry starts odd, unreadable.
    private int _sequence = 1;

    public void BeginChange()
    {
        if ((_sequence & 1) == 0)
        {
            Interlocked.Increment(ref _sequence); // a full fence: no change is seen before the count says so
        }
    }

    public void EndChange() => Volatile.Write(ref _sequence, _sequence + 1);

    /// <summary>The entry as the update that would recreate it, with its remaining timeline: what its row stores.</summary>
    public IndexUpdate ToUpdate() => new(UserId, Version, Profile, LastSeenAt, Status, Steps[NextStep..], StatusText, Holds);

    /// <summary>
    /// The user as others see it at <paramref name="now"/> (null: not listed), read between two changes, from any
    /// thread; computed from the timeline, so a step due before the timer moved it counts. False when a change was
    /// under way at every try.
    /// </summary>
    public bool TryRead(DateTimeOffset now, out UserPresence? view)
    {
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var before = Volatile.Read(ref _sequence);
            if ((before & 1) != 0)
            {
                Thread.SpinWait(20);
                continue;
            }
            string? status = Gone ? null : Status;
            var (profile, lastSeenAt, statusText, steps) = (Profile, LastSeenAt, StatusText, Steps);
            for (var step = NextStep; status is not null && step < steps.Length && steps[step].At <= now; step++)
            {
                status = steps[step].Status;
            }
            Interlocked.MemoryBarrier(); // every field above was read before the count is read again
            if (Volatile.Read(ref _sequence) == before)
            {
                view = status is null ? null : new UserPresence(UserId, profile, status, lastSeenAt, Invisible: false, statusText);
                return true;
            }
        }
        view = null;
        return false;
    }
}
