using Presence.Grains.Collections;
using Presence.Grains.Timers;

namespace Presence.Grains.Channels;

/// <summary>
/// A channel's members in memory, indexed so that every operation costs the same with a million members as with ten:
/// a map by user id, the subscribers and the visibly present members each in id order (pages start with a binary
/// search), and an expiry wheel of what is due next (a presence ends, or a member neither subscribed nor present is
/// forgotten once its last sighting is older than the retention). Knows nothing of storage or of grains.
/// </summary>
internal sealed class ChannelMembers(TimeSpan lastSeenRetention)
{
    private readonly Dictionary<string, ChannelMemberState> _members = new(StringComparer.Ordinal);
    private readonly SortedKeys<ChannelMemberState> _subscribers = new();
    // Members with a status who are not hidden; a page skips the few whose status expired before the wheel got to them.
    private readonly SortedKeys<ChannelMemberState> _present = new();
    private readonly ExpiryWheel<ChannelMemberState> _wheel = new();

    public int Count => _members.Count;

    public int Subscribers => _subscribers.Count;

    /// <summary>Members visibly present (Stream's watchers); a status that expired is counted until the grain's timer applies it, on time.</summary>
    public int Present => _present.Count;

    /// <summary>The earliest second something is due, or MaxValue.</summary>
    public DateTimeOffset EarliestDue => _wheel.EarliestDue;

    public ChannelMemberState? Find(string userId) => _members.GetValueOrDefault(userId);

    /// <summary>Adds a member as loaded; <see cref="Refile"/> files it.</summary>
    public void Add(ChannelMemberState member) => _members[member.Key] = member;

    public ChannelMemberState GetOrAdd(string userId)
    {
        if (!_members.TryGetValue(userId, out var member))
        {
            _members.Add(userId, member = new ChannelMemberState { Key = userId });
        }
        return member;
    }

    /// <summary>
    /// Files a member after it changed (or was loaded): in or out of the subscriber and present orders, and on the wheel
    /// at its next due time. False when nothing is left to keep of it: it is removed, and its row should be too.
    /// </summary>
    public bool Refile(ChannelMemberState member, DateTimeOffset now)
    {
        var userId = member.Key;
        if (member.Status is not null && member.ExpiresAt is { } ends)
        {
            member.NextDue = ends;
        }
        else
        {
            member.Status = null;
            member.ExpiresAt = null;
            member.NextDue = member.SubscribedAt is null && member.LastSeenAt is { } seen ? Hour(seen + lastSeenRetention) : null;
        }
        if (member.SubscribedAt is null && member.Status is null && (member.NextDue is null || member.NextDue <= now))
        {
            Remove(member);
            return false;
        }
        _ = member.SubscribedAt is null ? _subscribers.Remove(userId) : _subscribers.Add(member);
        _ = member.Status is null || member.Hidden ? _present.Remove(userId) : _present.Add(member);
        _wheel.Schedule(member);
        return true;
    }

    /// <summary>The members due at <paramref name="now"/>, taken off the wheel: the caller applies what is due and refiles each.</summary>
    public List<ChannelMemberState> TakeDue(DateTimeOffset now)
    {
        var due = new List<ChannelMemberState>();
        foreach (var userId in _wheel.TakeDue(now))
        {
            if (_members.TryGetValue(userId, out var member))
            {
                member.Bucket = long.MaxValue; // its bucket left the wheel with it
                due.Add(member);
            }
        }
        return due;
    }

    /// <summary>Subscribers after <paramref name="afterUserId"/>, in id order: at most <paramref name="count"/>, and whether more follow.</summary>
    public (List<ChannelMemberState> Page, bool More) SubscribersAfter(string? afterUserId, int count)
        => Page(_subscribers, afterUserId, count, static (_, _) => true, default);

    /// <summary>Members visibly present at <paramref name="now"/>, after <paramref name="afterUserId"/>, in id order.</summary>
    public (List<ChannelMemberState> Page, bool More) PresentAfter(string? afterUserId, int count, DateTimeOffset now)
        => Page(_present, afterUserId, count, static (m, at) => m.IsVisiblyPresentAt(at), now);

    /// <summary>Every subscriber's id (a gateway that starts watching the channel, or lost track of it).</summary>
    public string[] SubscriberIds()
    {
        var ids = new string[_subscribers.Count];
        var i = 0;
        foreach (var member in _subscribers.After(null))
        {
            ids[i++] = member.Key;
        }
        return ids;
    }

    private static (List<ChannelMemberState>, bool) Page(SortedKeys<ChannelMemberState> order, string? afterUserId, int count, Func<ChannelMemberState, DateTimeOffset, bool> include, DateTimeOffset now)
    {
        var page = new List<ChannelMemberState>(Math.Min(count, 64));
        foreach (var member in order.After(afterUserId))
        {
            if (!include(member, now))
            {
                continue;
            }
            if (page.Count == count)
            {
                return (page, true);
            }
            page.Add(member);
        }
        return (page, false);
    }

    /// <summary>
    /// A forgetting time, rounded up to the hour: forgetting needs no precision, and the wheel then holds at most one
    /// second per hour of the retention, not one per second members were last seen in.
    /// </summary>
    private static DateTimeOffset Hour(DateTimeOffset at)
        => new(at.UtcTicks + TimeSpan.TicksPerHour - 1 - (at.UtcTicks + TimeSpan.TicksPerHour - 1) % TimeSpan.TicksPerHour, TimeSpan.Zero);

    private void Remove(ChannelMemberState member)
    {
        _members.Remove(member.Key);
        _subscribers.Remove(member.Key);
        _present.Remove(member.Key);
        _wheel.Unschedule(member);
    }
}
