namespace Presence.Grains.Timers;

/// <summary>A grain that lets its activation go when asked, by a call it makes to itself (see <see cref="LetGoLater"/>).</summary>
[Alias("presence.ILetGo")]
public interface ILetGo : IGrainWithStringKey
{
    /// <summary>Deactivates this activation once the call is done: every call queued before this one was served.</summary>
    [Alias("LetGo"), OneWay]
    Task LetGo();
}

/// <summary>
/// Lets an activation go a moment after it asks to, by a call to itself that waits its turn behind the calls already
/// queued. <see cref="GrainBaseExtensions.DeactivateOnIdle"/> from within a call instead forwards every call queued
/// behind it to a new activation, which asked to go in turn; Orleans forwards a message twice at most, so a burst of
/// calls for one grain (a user opening twenty streams at once) fails after the third.
/// </summary>
internal sealed class LetGoLater(ILetGo self, TimeSpan after)
{
    private int _asked;

    /// <summary>Asks once: this activation goes <c>after</c> from now (real time), when the calls waiting before it are done.</summary>
    public void Ask()
    {
        if (Interlocked.Exchange(ref _asked, 1) == 0)
        {
            _ = LetGo(self.AsReference<ILetGo>());
        }
    }

    private static async Task LetGo(ILetGo me, TimeSpan after)
    {
        // Off the grain's scheduler: the call below goes through the activation's queue like any other.
        await Task.Delay(after).ConfigureAwait(false);
        await me.LetGo(); // one-way: nothing comes back, a call to an activation already gone included
    }

    private Task LetGo(ILetGo me) => LetGo(me, after);
}
