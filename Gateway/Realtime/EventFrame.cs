using System.Text;

namespace Presence.Gateway.Realtime;

/// <summary>
/// One event, serialized once however many connections receive it: the JSON a WebSocket sends as a text
/// message, and the same JSON framed for Server-Sent Events.
/// </summary>
public sealed class EventFrame(byte[] json)
{
    private static readonly byte[] SsePrefix = "data: "u8.ToArray();
    private static readonly byte[] SseSuffix = "\n\n"u8.ToArray();

    /// <summary>An SSE comment line: keeps proxies from cutting an idle stream.</summary>
    public static readonly EventFrame KeepAlive = new([], ": keep-alive\n\n"u8.ToArray());

    private byte[]? _sse;

    private EventFrame(byte[] json, byte[] sse)
        : this(json) => _sse = sse;

    public ReadOnlyMemory<byte> Json { get; } = json;

    /// <summary><c>data: {json}\n\n</c>, built on first use (JSON never contains a raw newline).</summary>
    public ReadOnlyMemory<byte> Sse => _sse ??= [.. SsePrefix, .. json, .. SseSuffix];

    public override string ToString() => Encoding.UTF8.GetString(Json.Span);
}
