using System.Buffers;
using System.Buffers.Binary;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>Where a <see cref="WebSocketFrameReader"/> sends its answers (pongs): behind the stream's queued events.</summary>
public interface IWebSocketReplies
{
    void Reply(EventFrame frame);

    /// <summary>A whole text message, when the reader keeps messages (its buffer: valid only during the call).</summary>
    void Message(ReadOnlySpan<byte> text);
}

/// <summary>What a read told the stream.</summary>
public enum WebSocketSignal
{
    /// <summary>Nothing that ends the stream (messages are ignored, pings answered).</summary>
    None,

    /// <summary>The client closes: answer with a close, then end.</summary>
    Close,

    /// <summary>The client broke the protocol: close with 1002 and end.</summary>
    ProtocolError,

    /// <summary>A message longer than the reader keeps: close with 1009 and end.</summary>
    TooBig,
}

/// <summary>
/// Reads what a client sends on a stream's WebSocket, as it arrives. A stream of this service only sends, so its
/// messages are skipped without being kept (their text is not checked to be UTF-8); Stream Chat's SDK pings with
/// small text messages, so a reader made with a <c>maxMessage</c> keeps each message (unmasked, in a pooled buffer
/// only while one is arriving) and hands it over whole. Pings are answered; a close or a protocol error ends the
/// stream. Between reads it keeps at most one unfinished frame head or control frame (131 bytes), and a count of
/// message bytes still to come.
/// </summary>
public sealed class WebSocketFrameReader(int maxMessage = 0)
{
    // The longest unfinished piece carried over: a control frame (2-byte head, 4-byte mask, 125 bytes; its length is
    // never in the longer forms), or the longest frame head (2 + 8 + 4).
    private const int MaxCarry = 2 + 4 + WebSocketFrames.MaxControlPayload;

    private byte[]? _carry;
    private int _carryLength;
    private long _skip;
    private bool _inMessage;

    // A message being kept: its bytes so far, whether it is text, and the current frame's mask and position.
    private byte[]? _message;
    private int _messageLength;
    private bool _text;
    private bool _keepingFrame;
    private bool _finalFrame;
    private uint _mask; // the frame's four mask bytes, the first in the lowest byte
    private int _maskOffset;

    public WebSocketSignal Read(ReadOnlySpan<byte> received, IWebSocketReplies replies)
    {
        if (_skip > 0)
        {
            var skipped = (int)Math.Min(_skip, received.Length);
            Keep(received[..skipped]);
            _skip -= skipped;
            received = received[skipped..];
            EndOfFrame(replies);
        }
        if (_carryLength == 0)
        {
            return Parse(received, replies);
        }
        var joined = ArrayPool<byte>.Shared.Rent(_carryLength + received.Length);
        try
        {
            _carry.AsSpan(0, _carryLength).CopyTo(joined);
            received.CopyTo(joined.AsSpan(_carryLength));
            var length = _carryLength + received.Length;
            _carryLength = 0;
            return Parse(joined.AsSpan(0, length), replies);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    private WebSocketSignal Parse(ReadOnlySpan<byte> data, IWebSocketReplies replies)
    {
        while (data.Length > 0)
        {
            if (data.Length < 2)
            {
                return Carry(data);
            }
            var opcode = data[0] & 0x0F;
            var fin = (data[0] & WebSocketFrames.Fin) != 0;
            if ((data[0] & 0x70) != 0 || (data[1] & 0x80) == 0)
            {
                return WebSocketSignal.ProtocolError; // reserved bits without an extension, or an unmasked client frame
            }
            long length = data[1] & 0x7F;
            if (opcode >= WebSocketFrames.CloseOpcode && length > WebSocketFrames.MaxControlPayload)
            {
                return WebSocketSignal.ProtocolError; // a control frame's length always fits the first byte
            }
            var head = 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + 4;
            if (data.Length < head)
            {
                return Carry(data);
            }
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
                if (length < 126)
                {
                    return WebSocketSignal.ProtocolError; // the shortest form is required
                }
            }
            else if (length == 127)
            {
                var longLength = BinaryPrimitives.ReadUInt64BigEndian(data[2..]);
                if (longLength > long.MaxValue || longLength <= ushort.MaxValue)
                {
                    return WebSocketSignal.ProtocolError;
                }
                length = (long)longLength;
            }
            if (opcode < WebSocketFrames.CloseOpcode)
            {
                // A continuation continues a message; a new message never starts inside one.
                if (opcode > WebSocketFrames.Binary || (opcode == WebSocketFrames.Continuation) != _inMessage)
                {
                    return WebSocketSignal.ProtocolError;
                }
                _inMessage = !fin;
                if (maxMessage > 0)
                {
                    if (_messageLength + length > maxMessage)
                    {
                        return WebSocketSignal.TooBig;
                    }
                    if (opcode != WebSocketFrames.Continuation)
                    {
                        _text = opcode == WebSocketFrames.TextOpcode;
                    }
                    (_keepingFrame, _finalFrame, _maskOffset) = (true, fin, 0);
                    _mask = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(head - 4, 4));
                }
                // A message (or a piece of one): kept or skipped, here and in the reads to come.
                data = data[head..];
                var taken = (int)Math.Min(length, data.Length);
                Keep(data[..taken]);
                _skip = length - taken;
                data = data[taken..];
                EndOfFrame(replies);
                continue;
            }
            if (opcode > WebSocketFrames.PongOpcode || !fin)
            {
                return WebSocketSignal.ProtocolError;
            }
            if (data.Length < head + length)
            {
                return Carry(data);
            }
            if (opcode == WebSocketFrames.CloseOpcode)
            {
                // A close body, if any, starts with a two-byte status code.
                return length == 1 ? WebSocketSignal.ProtocolError : WebSocketSignal.Close;
            }
            if (opcode == WebSocketFrames.PingOpcode)
            {
                var mask = data.Slice(head - 4, 4);
                var payload = data.Slice(head, (int)length).ToArray();
                for (var i = 0; i < payload.Length; i++)
                {
                    payload[i] ^= mask[i % 4];
                }
                replies.Reply(EventFrame.WebSocketControl(WebSocketFrames.Pong(payload)));
            }
            data = data[(head + (int)length)..];
        }
        return WebSocketSignal.None;
    }

    /// <summary>Unmasks and keeps a piece of the current frame's payload, if messages are kept.</summary>
    private void Keep(ReadOnlySpan<byte> payload)
    {
        if (!_keepingFrame || payload.IsEmpty)
        {
            return;
        }
        _message ??= ArrayPool<byte>.Shared.Rent(maxMessage);
        for (var i = 0; i < payload.Length; i++)
        {
            _message[_messageLength++] = (byte)(payload[i] ^ (byte)(_mask >> (8 * (_maskOffset++ & 3))));
        }
    }

    /// <summary>When the current frame is all read: a final one completes the message, handed over if it is text.</summary>
    private void EndOfFrame(IWebSocketReplies replies)
    {
        if (!_keepingFrame || _skip > 0)
        {
            return;
        }
        _keepingFrame = false;
        if (!_finalFrame)
        {
            return;
        }
        try
        {
            if (_text)
            {
                replies.Message(_message is null ? [] : _message.AsSpan(0, _messageLength));
            }
        }
        finally
        {
            if (_message is not null)
            {
                ArrayPool<byte>.Shared.Return(_message);
            }
            (_message, _messageLength) = (null, 0);
        }
    }

    private WebSocketSignal Carry(ReadOnlySpan<byte> unfinished)
    {
        _carry ??= new byte[MaxCarry];
        unfinished.CopyTo(_carry);
        _carryLength = unfinished.Length;
        return WebSocketSignal.None;
    }
}
