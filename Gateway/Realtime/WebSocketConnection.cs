using System.Net.WebSockets;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime;

/// <summary>A WebSocket stream: one text message per event; the socket pings by itself.</summary>
public sealed class WebSocketConnection(WebSocket socket, Caller caller, string[] users, string[] channels, int sendBuffer, EventShape shape)
    : StreamConnection(caller, users, channels, sendBuffer, shape)
{
    public override bool NeedsKeepAlive => false;

    public WebSocket Socket => socket;

    protected override ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken)
        => socket.SendAsync(frame.Json, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    protected override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    protected override void Abort() => socket.Abort();
}
