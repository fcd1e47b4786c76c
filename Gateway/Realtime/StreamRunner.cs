using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime;

/// <summary>
/// The life of an open stream, whichever server carries it (Kestrel's HTTP, or <see cref="Direct.DirectStreams"/>):
/// its watches, its user held online, its first event, then events until it ends.
/// </summary>
public sealed partial class StreamRunner(
    PresenceEventHub hub,
    HeldPresence held,
    RealtimeMetrics metrics,
    IGrainFactory grains,
    IPresenceGrains presence,
    Stream.StreamChatConnections connections,
    TimeProvider time,
    ILogger<StreamRunner> logger)
{
    /// <summary>Runs the stream until <paramref name="pumping"/> completes (the client left, or the stream ended on our side).</summary>
    public async Task Run(StreamRequest request, StreamConnection connection, string transport, Task pumping, CancellationToken cancellationToken)
    {
        try
        {
            if (await OpenAsync(request, connection, transport, cancellationToken))
            {
                await pumping;
            }
        }
        finally
        {
            await CloseAsync(connection, transport);
        }
    }

    /// <summary>
    /// Opens the stream: its watches, its user held online, its first event. False when it ended before it opened:
    /// the client went away, or it failed (then its last event says why). Either way <see cref="CloseAsync"/> follows.
    /// </summary>
    public async Task<bool> OpenAsync(StreamRequest request, StreamConnection connection, string transport, CancellationToken cancellationToken)
    {
        metrics.StreamOpened(transport);
        try
        {
            connection.Users = await request.UsersWithSubscriptions(grains, connection.Caller, cancellationToken);
            await hub.AttachAsync(connection, cancellationToken);
            if (request.StreamChat is { } streamChat)
            {
                var own = await streamChat.OpenAsync(held, presence, cancellationToken);
                // Known by its id before the client learns the id: its next call may name it at once.
                connections.Add(connection);
                connection.Open(Stream.StreamChatEvents.Connected(connection.Id, own, time.GetUtcNow()));
                return true;
            }
            var me = await held.OpenAsync(connection.Caller, cancellationToken);
            connection.Open(RealtimeEvents.Connected(connection.Id, me, time.GetUtcNow()));
            return true;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested || connection.DroppedBecause is not null)
        {
            // The client went away, or was dropped for falling behind.
            return false;
        }
        catch (Exception error)
        {
            // The stream is open (its headers are sent): say why it ends, in the stream, and end it.
            LogStreamFailed(error, connection.Id);
            if (connection.Shape == EventShape.StreamChat)
            {
                // No frame: the socket closes with a code other than 1000, which the SDK retries (an error frame it would not).
                return false;
            }
            connection.Fail(RealtimeEvents.Failed("presence service temporarily unavailable, reconnect shortly"));
            await connection.DrainedAsync(TimeSpan.FromSeconds(5));
            return false;
        }
    }

    /// <summary>The stream is over: its watches go, and nothing more is written to it.</summary>
    public async Task CloseAsync(StreamConnection connection, string transport)
    {
        connections.Remove(connection);
        hub.Detach(connection);
        await connection.StopAsync();
        metrics.StreamClosed(transport);
    }

    /// <summary>Gives back the stream's connection slot; the last one of its user starts the grace period.</summary>
    public async Task ReleaseQuietly(Caller caller)
    {
        try
        {
            await held.CloseAsync(caller);
        }
        catch (Exception)
        {
            // The hold's lease ends it anyway.
        }
    }

    /// <summary>The token's exp, if it has one (validation requires it).</summary>
    public static DateTimeOffset? TokenExpiry(System.Security.Claims.ClaimsPrincipal principal)
        => long.TryParse(principal.FindFirst("exp")?.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var exp)
            ? DateTimeOffset.FromUnixTimeSeconds(exp)
            : null;

    /// <summary>How long until a token that expires at <paramref name="expiresAt"/> ends its stream, as a timer can take it.</summary>
    public static TimeSpan UntilExpiry(DateTimeOffset expiresAt)
    {
        var delay = expiresAt - DateTimeOffset.UtcNow;
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > TimeSpan.FromDays(24) ? TimeSpan.FromDays(24) : delay;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Realtime stream {ConnectionId} failed")]
    private partial void LogStreamFailed(Exception error, string connectionId);
}
