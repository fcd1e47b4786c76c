using System.Net.WebSockets;

namespace Presence.Tests.Support;

public static class WebSocketMessages
{
    /// <summary>
    /// Hands each whole message the server sends to <paramref name="received"/>, until it closes the socket (returns) or
    /// the socket breaks (throws, as <see cref="WebSocket.ReceiveAsync(ArraySegment{byte}, CancellationToken)"/> does).
    /// </summary>
    public static async Task ReadAll(WebSocket socket, Action<byte[]> received)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            received(message.ToArray());
        }
    }
}
