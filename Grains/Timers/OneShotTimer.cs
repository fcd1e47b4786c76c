namespace Presence.Grains.Timers;

/// <summary>
/// A grain timer that fires once at a chosen time and is moved, not recreated, when that time changes
/// (<see cref="IGrainTimer.Change"/>). Ticks are delivered like grain calls: they never interleave with them, unless the
/// grain is reentrant (a channel), where everything interleaves at its awaits.
/// </summary>
internal sealed class OneShotTimer(IGrainBase grain, Func<CancellationToken, Task> callback, TimeProvider time, bool keepAlive)
{
    private IGrainTimer? _timer;

    /// <summary>When the timer is set to fire; <see cref="DateTimeOffset.MaxValue"/> when it is not set.</summary>
    public DateTimeOffset Due { get; private set; } = DateTimeOffset.MaxValue;

    /// <summary>Sets the timer for <paramref name="due"/> (MaxValue: not at all); nothing happens if it is already so.</summary>
    public void Set(DateTimeOffset due)
    {
        if (due == Due)
        {
            return;
        }
        Due = due;
        if (due == DateTimeOffset.MaxValue)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        var now = time.GetUtcNow();
        var delay = due > now ? due - now : TimeSpan.Zero;
        if (_timer is null)
        {
            _timer = grain.RegisterGrainTimer(Fire, new GrainTimerCreationOptions(delay, Timeout.InfiniteTimeSpan) { KeepAlive = keepAlive });
        }
        else
        {
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Stops the timer for good (its owner goes while its grain stays).</summary>
    public void Dispose()
    {
        _timer?.Dispose();
        _timer = null;
        Due = DateTimeOffset.MaxValue;
    }

    private Task Fire(CancellationToken cancellationToken)
    {
        Due = DateTimeOffset.MaxValue;
        return callback(cancellationToken);
    }
}
