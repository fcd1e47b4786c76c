namespace Presence.Gateway.Hosting;

/// <summary>
/// Retries a request whose grain call failed because a silo just died or is not reachable yet (the grain is being
/// reactivated elsewhere), for up to <see cref="Budget"/>, so a client sees a slower answer instead of an error
/// during a failover. Every presence operation is idempotent (it sets a value), so running it again is safe; the
/// body was parsed once and is reused. A database that is down is not retried: that is a 503 at once.
/// </summary>
public sealed partial class TransientRetryFilter(ILogger<TransientRetryFilter> logger) : IEndpointFilter
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(15);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var started = Environment.TickCount64;
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await next(context);
            }
            catch (Exception error) when (IsTransient(error) && Environment.TickCount64 - started + delay.TotalMilliseconds < Budget.TotalMilliseconds
                && !context.HttpContext.RequestAborted.IsCancellationRequested)
            {
                LogRetry(context.HttpContext.Request.Path, attempt, error.GetType().Name);
                await Task.Delay(delay, context.HttpContext.RequestAborted);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    private static bool IsTransient(Exception error) => error is SiloUnavailableException
        or Orleans.Runtime.OrleansMessageRejectionException
        or Orleans.Runtime.Messaging.ConnectionFailedException
        or TimeoutException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path}: attempt {Attempt} failed with {Error}, retrying")]
    private partial void LogRetry(string path, int attempt, string error);
}
