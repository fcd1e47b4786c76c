using System.Buffers;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime;

/// <summary>A Server-Sent Events stream: <c>data: {json}</c> per event, a comment line as keep-alive, written straight into the response pipe.</summary>
public sealed class SseConnection(HttpContext http, Caller caller, string[] users, string[] channels, int sendBuffer)
    : StreamConnection(caller, users, channels, sendBuffer)
{
    public override bool NeedsKeepAlive => true;

    protected override ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken)
    {
        http.Response.BodyWriter.Write(frame.Sse.Span);
        return ValueTask.CompletedTask;
    }

    protected override ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var flush = http.Response.BodyWriter.FlushAsync(cancellationToken);
        return flush.IsCompletedSuccessfully ? ValueTask.CompletedTask : new ValueTask(flush.AsTask());
    }

    protected override void Abort() => http.Abort();
}
