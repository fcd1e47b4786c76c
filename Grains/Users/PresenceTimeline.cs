using Presence.Index;

namespace Presence.Grains.Users;

/// <summary>
/// The effective-status rule, as a pure function of a user's sources and the time:
/// offline when no source is live; else the status of the most recently updated live source that carries a
/// custom status (anything but plain "online"); else "online". A device coming online never hides "busy", and
/// one source going offline never hides another that is live. A manual status (chosen by the user, Rocket.Chat's
/// setStatus) replaces all of that while any source is live, and never makes the user live by itself.
/// </summary>
public static class PresenceTimeline
{
    /// <summary>The effective status at <paramref name="at"/>, or null for offline.</summary>
    public static string? EffectiveAt(IReadOnlyDictionary<string, PresenceSource> sources, DateTimeOffset at, string? manual = null)
    {
        PresenceSource? custom = null;
        string? customName = null;
        var anyLive = false;
        foreach (var (name, source) in sources)
        {
            if (source.ExpiresAt <= at)
            {
                continue;
            }
            anyLive = true;
            if (source.Status == PresenceStatus.Online)
            {
                continue;
            }
            // Ties broken by source name so that every silo computes the same answer.
            if (custom is null || source.UpdatedAt > custom.UpdatedAt
                || (source.UpdatedAt == custom.UpdatedAt && string.CompareOrdinal(name, customName) > 0))
            {
                custom = source;
                customName = name;
            }
        }
        if (!anyLive)
        {
            return null;
        }
        return manual ?? custom?.Status ?? PresenceStatus.Online;
    }

    /// <summary>
    /// The changes of effective status that will happen after <paramref name="now"/> as live sources expire, if
    /// nothing else changes. The last step is always offline (Status null); empty when offline now.
    /// </summary>
    public static StatusStep[] StepsAfter(IReadOnlyDictionary<string, PresenceSource> sources, DateTimeOffset now, string? manual = null)
    {
        if (sources.Count == 1)
        {
            // The common case, one source: it simply ends.
            var only = sources.Values.First();
            return only.ExpiresAt > now ? [new StatusStep(only.ExpiresAt, null)] : [];
        }
        var expiries = new SortedSet<DateTimeOffset>();
        foreach (var source in sources.Values)
        {
            if (source.ExpiresAt > now)
            {
                expiries.Add(source.ExpiresAt);
            }
        }
        if (expiries.Count == 0)
        {
            return [];
        }
        var steps = new List<StatusStep>(1);
        var current = EffectiveAt(sources, now, manual);
        foreach (var at in expiries)
        {
            var next = EffectiveAt(sources, at, manual);
            if (next != current)
            {
                steps.Add(new StatusStep(at, next));
                current = next;
            }
        }
        return [.. steps];
    }
}
