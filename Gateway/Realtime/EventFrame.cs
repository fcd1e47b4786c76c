using System.Text;

namespace Presence.Gateway.Realtime;

/// <summary>
/// One event, serialized once however many connections receive it: the JSON a WebSocket sends as a text
/// message, the same JSON framed for Server-Sent Events, and as a whole WebSocket frame for streams that write
/// their own frames (<see cref="Direct.DirectStreams"/>).
/// </summary>
public sealed class EventFrame(byte[] json)
{
    private static readonly byte[] SsePrefix = "data: "u8.ToArray();
    private static readonly byte[] SseSuffix = "\n\n"u8.ToArray();

    /// <summary>An SSE comment line, or a WebSocket ping: keeps proxies from cutting an idle stream.</summary>
    public static readonly EventFrame KeepAlive = new([], ": keep-alive\n\n"u8.ToArray(), Direct.WebSocketFrames.Ping);

    private byte[]? _sse;
    private byte[]? _webSocket;

    private EventFrame(byte[] json, byte[]? sse, byte[]? webSocket)
        : this(json)
    {
        _sse = sse;
        _webSocket = webSocket;
    }

    /// <summary>A WebSocket frame of our own (a pong, a close) to queue behind the events already queued.</summary>
    public static EventFrame WebSocketControl(byte[] frame) => new([], sse: [], frame);

    public ReadOnlyMemory<byte> Json { get; } = json;

    /// <summary><c>data: {json}\n\n</c>, built on first use (JSON never contains a raw newline).</summary>
    public ReadOnlyMemory<byte> Sse => _sse ??= [.. SsePrefix, .. json, .. SseSuffix];

    /// <summary>The JSON as one unmasked text frame (a server's frames are never masked), built on first use.</summary>
    public ReadOnlyMemory<byte> WebSocket => _webSocket ??= Direct.WebSocketFrames.Text(json);

    public override string ToString() => Encoding.UTF8.GetString(Json.Span);
}
