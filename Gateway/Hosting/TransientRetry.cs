namespace Presence.Gateway.Hosting;

/// <summary>
/// Retries a request whose grain call failed because a silo just died or is not reachable yet (the grain is being
/// reactivated elsewhere), for up to <see cref="Budget"/>, so a client sees a slower answer instead of an error
/// during a failover. Every presence operation is idempotent (it sets a value), so running it again is safe; the
/// body was parsed once and is reused. A database that is down is not retried: that is a 503 at once. Only endpoints
/// marked <see cref="RetriedOnFailover"/> are retried, and only while nothing of the response has been sent.
/// A middleware rather than an endpoint filter: any filter puts a per-request filter pipeline around the handler.
/// </summary>
public sealed partial class TransientRetry(RequestDelegate next, ILogger<TransientRetry> logger)
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(15);

    public Task InvokeAsync(HttpContext context)
        => context.GetEndpoint()?.Metadata.GetMetadata<RetriedOnFailover>() is null ? next(context) : RetryingAsync(context);

    private async Task RetryingAsync(HttpContext context)
    {
        var started = Environment.TickCount64;
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await next(context);
                return;
            }
            catch (Exception error) when (IsTransient(error) && NothingWritten(context.Response)
                && Environment.TickCount64 - started + delay.TotalMilliseconds < Budget.TotalMilliseconds
                && !context.RequestAborted.IsCancellationRequested)
            {
                LogRetry(context.Request.Path, attempt, error.GetType().Name);
                await Task.Delay(delay, context.RequestAborted);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>Not started, and nothing waiting in the body writer either (JSON bodies are written without a flush).</summary>
    private static bool NothingWritten(HttpResponse response)
        => !response.HasStarted && response.BodyWriter is not { CanGetUnflushedBytes: true, UnflushedBytes: > 0 };

    // A storage conflict: the call reached a stale activation (two briefly coexisted during a failover), which is
    // dropped; the retry reaches the current one.
    private static bool IsTransient(Exception error) => error is SiloUnavailableException
        or Presence.Storage.StorageConflictException
        or Orleans.Runtime.OrleansMessageRejectionException
        or Orleans.Runtime.Messaging.ConnectionFailedException
        or TimeoutException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path}: attempt {Attempt} failed with {Error}, retrying")]
    private partial void LogRetry(string path, int attempt, string error);
}

/// <summary>Endpoint metadata: <see cref="TransientRetry"/> retries this endpoint during a failover.</summary>
public sealed class RetriedOnFailover
{
    public static readonly RetriedOnFailover Instance = new();
}
