using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>
/// The server side of RFC 6455 as far as a stream needs it: the handshake's accept key, and the frames it sends
/// (text messages, pings, pongs, a close). Servers never mask what they send.
/// </summary>
public static class WebSocketFrames
{
    public const byte Fin = 0x80;
    public const byte Continuation = 0x0, TextOpcode = 0x1, Binary = 0x2, CloseOpcode = 0x8, PingOpcode = 0x9, PongOpcode = 0xA;

    /// <summary>A control frame's payload is at most this long (RFC 6455 5.5).</summary>
    public const int MaxControlPayload = 125;

    public const ushort NormalClosure = 1000, GoingAway = 1001, ProtocolError = 1002, MessageTooBig = 1009;

    /// <summary>An empty ping: the keep-alive every <see cref="RealtimeOptions.KeepAlive"/>.</summary>
    public static readonly byte[] Ping = [Fin | PingOpcode, 0];

    /// <summary>The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key (RFC 6455 4.2.2).</summary>
    public static string AcceptKey(string key)
        => Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

    /// <summary>Whether a Sec-WebSocket-Key is what the RFC asks for: 16 bytes in base64.</summary>
    public static bool IsValidKey(string key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key.Length == 24 && Convert.TryFromBase64String(key, decoded, out var length) && length == 16;
    }

    public static byte[] Text(ReadOnlySpan<byte> payload) => Frame(TextOpcode, payload);

    public static byte[] Pong(ReadOnlySpan<byte> payload) => Frame(PongOpcode, payload);

    public static byte[] Close(ushort status)
    {
        Span<byte> code = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(code, status);
        return Frame(CloseOpcode, code);
    }

    private static byte[] Frame(byte opcode, ReadOnlySpan<byte> payload)
    {
        var header = payload.Length <= 125 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[header + payload.Length];
        frame[0] = (byte)(Fin | opcode);
        switch (header)
        {
            case 2:
                frame[1] = (byte)payload.Length;
                break;
            case 4:
                frame[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
                break;
            default:
                frame[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
                break;
        }
        payload.CopyTo(frame.AsSpan(header));
        return frame;
    }
}
