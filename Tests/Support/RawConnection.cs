using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Presence.Tests.Support;

/// <summary>A client on a bare socket, to see the bytes the server sends.</summary>
public sealed class RawConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly List<byte> _buffered = [];

    private RawConnection(Socket socket) => _socket = socket;

    public static async Task<RawConnection> Open(Uri address, string request)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(address.Host, address.Port);
        var connection = new RawConnection(socket);
        await connection.Send(Encoding.ASCII.GetBytes(request));
        return connection;
    }

    public async Task Send(byte[] bytes)
    {
        await _socket.SendAsync(bytes, SocketFlags.None);
        await Task.Delay(20); // apart, so pieces arrive in reads of their own
    }

    private int _contentLength;

    public async Task<string> ReadHead()
    {
        var end = await Until("\r\n\r\n"u8.ToArray());
        var head = Encoding.ASCII.GetString(Take(end + 4));
        var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length: ", StringComparison.OrdinalIgnoreCase));
        _contentLength = length is null ? 0 : int.Parse(length["Content-Length: ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return head;
    }

    /// <summary>The JSON body of the response whose head was read last (Kestrel's answers carry a Content-Length).</summary>
    public async Task<JsonElement> ReadBody()
    {
        await Fill(_contentLength);
        return JsonDocument.Parse(Take(_contentLength)).RootElement.Clone();
    }

    public async Task<JsonElement> ReadSseEvent()
    {
        var end = await Until("\n\n"u8.ToArray());
        var text = Encoding.UTF8.GetString(Take(end + 2)).Trim();
        Assert.StartsWith("data: ", text);
        return JsonDocument.Parse(text["data: ".Length..]).RootElement.Clone();
    }

    /// <summary>
    /// The next server frame (unmasked, short or 16-bit length) that is not a ping: the hub's keep-alive tick pings
    /// every socket, a new one too, so one may come before any frame a test waits for.
    /// </summary>
    public async Task<(byte Opcode, byte[] Payload)> ReadFrame()
    {
        while (true)
        {
            var frame = await ReadAnyFrame();
            if (frame.Opcode != Presence.Gateway.Realtime.Direct.WebSocketFrames.PingOpcode)
            {
                return frame;
            }
        }
    }

    private async Task<(byte Opcode, byte[] Payload)> ReadAnyFrame()
    {
        await Fill(2);
        var length = _buffered[1] & 0x7F;
        var head = 2;
        if (length == 126)
        {
            await Fill(4);
            length = (_buffered[2] << 8) | _buffered[3];
            head = 4;
        }
        await Fill(head + length);
        var frame = Take(head + length);
        return ((byte)(frame[0] & 0x0F), frame[head..]);
    }

    /// <summary>Whether the server closed the connection (reads until it does, or times out).</summary>
    public async Task<bool> Ended()
    {
        using var patience = new CancellationTokenSource(EventClient.Patience);
        var buffer = new byte[1024];
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None, patience.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public void Close() => _socket.Close();

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<int> Until(byte[] marker)
    {
        while (true)
        {
            var at = _buffered.ToArray().AsSpan().IndexOf(marker);
            if (at >= 0)
            {
                return at;
            }
            await Receive();
        }
    }

    private async Task Fill(int count)
    {
        while (_buffered.Count < count)
        {
            await Receive();
        }
    }

    private async Task Receive()
    {
        using var patience = new CancellationTokenSource(EventClient.Patience);
        var buffer = new byte[4096];
        var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, patience.Token);
        Assert.True(read > 0, "the server closed the connection");
        _buffered.AddRange(buffer.AsSpan(0, read));
    }

    private byte[] Take(int count)
    {
        var taken = _buffered.GetRange(0, count).ToArray();
        _buffered.RemoveRange(0, count);
        return taken;
    }
}
