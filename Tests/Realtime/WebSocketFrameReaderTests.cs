using Presence.Gateway.Realtime;
using Presence.Gateway.Realtime.Direct;

namespace Presence.Tests.Realtime;

public sealed class WebSocketFrameReaderTests
{
    private sealed class Replies : IWebSocketReplies
    {
        public List<byte[]> Sent { get; } = [];

        public void Reply(EventFrame frame) => Sent.Add(frame.WebSocket.ToArray());

        public List<string> Messages { get; } = [];

        public void Message(ReadOnlySpan<byte> text) => Messages.Add(System.Text.Encoding.UTF8.GetString(text));
    }

    private static readonly byte[] Mask = [0x11, 0x22, 0x33, 0x44];

    /// <summary>A client frame: masked, as clients must send them.</summary>
    public static byte[] ClientFrame(byte opcode, byte[] payload, bool fin = true, bool masked = true)
    {
        var head = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length < 126)
        {
            head.Add((byte)(maskBit | payload.Length));
        }
        else
        {
            head.Add((byte)(maskBit | 126));
            head.Add((byte)(payload.Length >> 8));
            head.Add((byte)payload.Length);
        }
        if (masked)
        {
            head.AddRange(Mask);
        }
        return [.. head, .. payload.Select((b, i) => masked ? (byte)(b ^ Mask[i % 4]) : b)];
    }

    [Fact]
    public void A_ping_is_answered_with_a_pong_of_the_same_payload_even_when_it_arrives_in_pieces()
    {
        var reader = new WebSocketFrameReader();
        var replies = new Replies();
        var ping = ClientFrame(WebSocketFrames.PingOpcode, "hello"u8.ToArray());
        foreach (var piece in ping.Chunk(3))
        {
            Assert.Equal(WebSocketSignal.None, reader.Read(piece, replies));
        }
        var pong = Assert.Single(replies.Sent);
        Assert.Equal([0x8A, 5, .. "hello"u8.ToArray()], pong);
    }

    [Fact]
    public void Messages_are_skipped_however_long_and_however_cut_and_what_follows_is_still_read()
    {
        var reader = new WebSocketFrameReader();
        var replies = new Replies();
        var message = ClientFrame(WebSocketFrames.TextOpcode, new byte[5000]);
        var bytes = message.Concat(ClientFrame(WebSocketFrames.PingOpcode, [7])).Concat(ClientFrame(WebSocketFrames.PongOpcode, [])).ToArray();
        foreach (var piece in bytes.Chunk(1000))
        {
            Assert.Equal(WebSocketSignal.None, reader.Read(piece, replies));
        }
        Assert.Equal([0x8A, 1, 7], Assert.Single(replies.Sent));
    }

    [Fact]
    public void A_close_ends_the_stream()
    {
        var close = ClientFrame(WebSocketFrames.CloseOpcode, [0x03, 0xE8]);
        Assert.Equal(WebSocketSignal.Close, new WebSocketFrameReader().Read(close, new Replies()));
    }

    public static TheoryData<byte[]> Violations() => new()
    {
        ClientFrame(WebSocketFrames.TextOpcode, [1, 2], masked: false),
        ClientFrame(WebSocketFrames.PingOpcode, new byte[126]),
        ClientFrame(WebSocketFrames.PingOpcode, [1], fin: false),
        ClientFrame(0x3, [1]),
        ClientFrame(0xB, [1]),
        new byte[] { 0xC1, 0x80, 1, 2, 3, 4 }, // a reserved bit (compression was never agreed)
        new byte[] { 0x89, 0xFE, 0, 5, 1, 2, 3, 4, 1, 2, 3, 4, 5 }, // a control frame's length in the 16-bit form
        ClientFrame(WebSocketFrames.Continuation, [1]), // continues nothing
        ClientFrame(WebSocketFrames.TextOpcode, [1], fin: false).Concat(ClientFrame(WebSocketFrames.TextOpcode, [2])).ToArray(), // a message inside a message
        ClientFrame(WebSocketFrames.CloseOpcode, [3]), // a close body of one byte
        new byte[] { 0x81, 0xFE, 0, 5, 1, 2, 3, 4, 1, 2, 3, 4, 5 }, // a short length in the 16-bit form
    };

    [Fact]
    public void A_control_frame_with_a_long_length_form_cut_anywhere_is_a_protocol_error_never_an_exception()
    {
        // A ping declaring 125 bytes in the 64-bit form, then 124 of them: once threw from the carry-over buffer.
        byte[] frame = [0x89, 0xFF, 0, 0, 0, 0, 0, 0, 0, 125, .. Mask, .. new byte[124]];
        for (var cut = 1; cut < frame.Length; cut++)
        {
            var reader = new WebSocketFrameReader();
            var first = reader.Read(frame.AsSpan(0, cut), new Replies());
            var signal = first == WebSocketSignal.None ? reader.Read(frame.AsSpan(cut), new Replies()) : first;
            Assert.Equal(WebSocketSignal.ProtocolError, signal);
        }
    }

    [Fact]
    public void A_message_in_pieces_is_skipped_and_a_ping_between_its_pieces_answered()
    {
        var reader = new WebSocketFrameReader();
        var replies = new Replies();
        byte[] bytes =
        [
            .. ClientFrame(WebSocketFrames.TextOpcode, [1, 2], fin: false),
            .. ClientFrame(WebSocketFrames.PingOpcode, [9]),
            .. ClientFrame(WebSocketFrames.Continuation, [3], fin: false),
            .. ClientFrame(WebSocketFrames.Continuation, [4]),
            .. ClientFrame(WebSocketFrames.Binary, [5]),
        ];
        Assert.Equal(WebSocketSignal.None, reader.Read(bytes, replies));
        Assert.Equal([0x8A, 1, 9], Assert.Single(replies.Sent));
    }

    [Theory]
    [MemberData(nameof(Violations))]
    public void A_protocol_violation_ends_the_stream(byte[] frame)
        => Assert.Equal(WebSocketSignal.ProtocolError, new WebSocketFrameReader().Read(frame, new Replies()));

    [Fact]
    public void A_reader_that_keeps_messages_hands_each_over_whole_however_fragmented_or_cut_with_pings_between_its_pieces()
    {
        var reader = new WebSocketFrameReader(maxMessage: 64);
        var replies = new Replies();
        var bytes = ClientFrame(WebSocketFrames.TextOpcode, "[{\"type\":"u8.ToArray(), fin: false)
            .Concat(ClientFrame(WebSocketFrames.PingOpcode, [1]))
            .Concat(ClientFrame(WebSocketFrames.Continuation, "\"health.check\"}]"u8.ToArray()))
            .Concat(ClientFrame(WebSocketFrames.Binary, [1, 2, 3])) // binary: kept, not handed over as text
            .Concat(ClientFrame(WebSocketFrames.TextOpcode, []))
            .Concat(ClientFrame(WebSocketFrames.TextOpcode, "second"u8.ToArray()))
            .ToArray();
        foreach (var size in new[] { 1, 2, 5, 7, bytes.Length })
        {
            replies.Messages.Clear();
            replies.Sent.Clear();
            foreach (var piece in bytes.Chunk(size))
            {
                Assert.Equal(WebSocketSignal.None, reader.Read(piece, replies));
            }
            Assert.Equal(["[{\"type\":\"health.check\"}]", "", "second"], replies.Messages);
            Assert.Equal([0x8A, 1, 1], Assert.Single(replies.Sent));
        }
    }

    [Fact]
    public void A_kept_message_longer_than_the_limit_ends_the_stream_before_it_is_read()
    {
        var reader = new WebSocketFrameReader(maxMessage: 64);
        var replies = new Replies();
        Assert.Equal(WebSocketSignal.None, reader.Read(ClientFrame(WebSocketFrames.TextOpcode, new byte[40], fin: false), replies));
        Assert.Equal(WebSocketSignal.TooBig, reader.Read(ClientFrame(WebSocketFrames.Continuation, new byte[40]), replies));
        Assert.Empty(replies.Messages);
    }

    [Fact]
    public void The_handshake_accepts_a_key_as_the_rfc_example_does()
        => Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketFrames.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
}
