using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime;

/// <summary>A Server-Sent Events stream: <c>data: {json}</c> per event, a comment line as keep-alive.</summary>
public sealed class SseConnection(HttpContext http, Caller caller, string[] users, string[] channels, int sendBuffer)
    : StreamConnection(caller, users, channels, sendBuffer)
{
    public override bool NeedsKeepAlive => true;

    protected override ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken)
        => http.Response.Body.WriteAsync(frame.Sse, cancellationToken);

    protected override ValueTask FlushAsync(CancellationToken cancellationToken) => new(http.Response.Body.FlushAsync(cancellationToken));

    protected override void Abort() => http.Abort();
}
