namespace Presence.Grains.Timers;

/// <summary>
/// The one reminder a grain keeps so that its expirations happen even if it is deactivated or its silo dies: due at
/// the earliest expiry, re-registered only when an earlier expiry appears or when it has fired, removed when nothing
/// is left to expire. A refresh that only moves expiries later costs no reminder write. Reminders are periodic (a
/// minute at least); the long period only matters if a firing is lost.
/// </summary>
internal static class ExpiryReminder
{
    public const string Name = "expiry";
    private static readonly TimeSpan Period = TimeSpan.FromDays(1);

    /// <summary>Brings the reminder in line with <paramref name="earliest"/>; returns when it is now due (to store).</summary>
    public static async Task<DateTimeOffset?> Sync(IGrainBase grain, DateTimeOffset? earliest, DateTimeOffset? registered, DateTimeOffset now)
    {
        if (earliest is { } at)
        {
            if (registered is null || at < registered || registered <= now)
            {
                await grain.RegisterOrUpdateReminder(Name, at > now ? at - now : TimeSpan.Zero, Period);
                return at;
            }
            return registered;
        }
        if (registered is not null && await grain.GetReminder(Name) is { } reminder)
        {
            await grain.UnregisterReminder(reminder);
        }
        return null;
    }
}
