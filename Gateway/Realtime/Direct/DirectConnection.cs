using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>
/// A stream on a socket of its own: the response head, then frames written straight to the socket (a send into the
/// kernel's buffer almost always completes at once). While idle it holds no buffer and no pending operation: it waits
/// for the client in <see cref="IdleSockets"/>, which is also how it learns the client left.
/// </summary>
public abstract class DirectConnection(Socket socket, IdleSockets idle, Caller caller, string[] users, string[] channels, int sendBuffer, EventShape shape = EventShape.Realtime)
    : StreamConnection(caller, users, channels, sendBuffer, shape), IReadableSocket
{
    private long _waiting;

    /// <summary>The answer to the request: the stream's status line and headers.</summary>
    public byte[] Response(StreamRequestHead head)
        => Encoding.ASCII.GetBytes(ResponseHead(head) + "Date: " + DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture) + "\r\n\r\n");

    /// <summary>Sends the response head (the socket is non-blocking: see <see cref="Send"/>).</summary>
    public ValueTask AcceptAsync(byte[] response, CancellationToken cancellationToken) => Send(response, cancellationToken);

    /// <summary>From now on, what the client sends is read as it comes, and the stream ends when the client leaves.</summary>
    public void StartReceiving()
    {
        try
        {
            // The token first: the socket may be readable, and this run, before Watch returns.
            _waiting = idle.NewToken();
            idle.Watch(socket, _waiting, this);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            End();
        }
    }

    /// <summary>The socket is readable: reads what is there without blocking, then waits again (or the stream ends).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            // A bounded share of the thread per turn: a client that sends without pause waits for its next one.
            for (var reads = 0; ; reads++)
            {
                if (reads == 16)
                {
                    idle.Rearm(socket, _waiting);
                    return;
                }
                var read = socket.Receive(buffer, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                {
                    idle.Rearm(socket, _waiting);
                    return;
                }
                if (error != SocketError.Success || read == 0)
                {
                    End(); // the client left
                    return;
                }
                if (!Received(buffer.AsSpan(0, read)))
                {
                    return;
                }
            }
        }
        catch (Exception)
        {
            // Closed meanwhile, or anything else: the stream ends, the process does not (an exception escaping a
            // thread-pool work item would end it).
            End();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Says goodbye if the protocol has a way to, then closes the socket.</summary>
    public async Task CloseAsync()
    {
        idle.Forget(socket, _waiting);
        try
        {
            await GoodbyeAsync();
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Already gone.
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>The status line and headers, each line ending in CRLF, but for the Date and the empty line.</summary>
    protected abstract string ResponseHead(StreamRequestHead head);

    /// <summary>Handles bytes the client sent; false when the stream ends (the handler ends it, once it has answered).</summary>
    protected abstract bool Received(ReadOnlySpan<byte> data);

    protected virtual Task GoodbyeAsync() => Task.CompletedTask;

    /// <summary>
    /// Sends at once into the kernel's buffer when it has room (nearly always): a non-blocking send costs the socket
    /// no asynchronous operation object, which it would otherwise keep for its whole life. Only what does not fit
    /// waits, asynchronously.
    /// </summary>
    protected ValueTask Send(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var sent = socket.Send(bytes.Span, SocketFlags.None, out var error);
        if (error == SocketError.Success && sent == bytes.Length)
        {
            return ValueTask.CompletedTask;
        }
        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            return ValueTask.FromException(new SocketException((int)error));
        }
        var rest = socket.SendAsync(bytes[sent..], SocketFlags.None, cancellationToken);
        return rest.IsCompletedSuccessfully ? ValueTask.CompletedTask : new ValueTask(rest.AsTask());
    }

    protected override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>A reset, not a close: what was queued for a consumer this far behind is not worth sending.</summary>
    protected override void Abort() => socket.Close(0);
}

/// <summary>A Server-Sent Events stream on its own socket: <c>Connection: close</c>, so the body is the rest of the connection.</summary>
public sealed class DirectSseConnection(Socket socket, IdleSockets idle, Caller caller, string[] users, string[] channels, int sendBuffer)
    : DirectConnection(socket, idle, caller, users, channels, sendBuffer)
{
    public override bool NeedsKeepAlive => true;

    protected override string ResponseHead(StreamRequestHead head)
        => "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n";

    // Anything sent after the request (a pipelined one) is never answered: the response ends with the connection.
    protected override bool Received(ReadOnlySpan<byte> data) => true;

    protected override ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken) => Send(frame.Sse, cancellationToken);
}

/// <summary>
/// A WebSocket stream on its own socket: one text frame per event, a ping every keep-alive (from the hub's shared
/// tick, not a timer per socket), pings answered, and a client that has not been heard from for two keep-alives cut.
/// </summary>
public sealed class DirectWebSocketConnection(Socket socket, IdleSockets idle, Caller caller, string[] users, string[] channels, int sendBuffer, TimeSpan keepAlive, EventShape shape)
    : DirectConnection(socket, idle, caller, users, channels, sendBuffer, shape), IWebSocketReplies
{
    private static readonly byte[] GoingAway = WebSocketFrames.Close(WebSocketFrames.GoingAway);

    private readonly long _silenceLimit = (long)(keepAlive * 2).TotalMilliseconds;
    private long _lastHeard = Environment.TickCount64;
    private WebSocketFrameReader? _reader;
    private bool _closing;

    public override bool NeedsKeepAlive => true;

    protected override string ResponseHead(StreamRequestHead head)
        => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "
            + WebSocketFrames.AcceptKey(head.WebSocketKey!) + "\r\n";

    protected override bool Received(ReadOnlySpan<byte> data)
    {
        Volatile.Write(ref _lastHeard, Environment.TickCount64);
        var signal = (_reader ??= new WebSocketFrameReader(KeptMessageBytes)).Read(data, this);
        if (signal == WebSocketSignal.None)
        {
            return true;
        }
        // The close handshake: answer (behind what is queued; nothing is sent after it), then end.
        _closing = true;
        var status = signal switch
        {
            WebSocketSignal.Close => WebSocketFrames.NormalClosure,
            WebSocketSignal.TooBig => WebSocketFrames.MessageTooBig,
            _ => WebSocketFrames.ProtocolError,
        };
        Fail(EventFrame.WebSocketControl(WebSocketFrames.Close(status)));
        _ = EndOnceSent();
        return false;
    }

    private async Task EndOnceSent()
    {
        await DrainedAsync(TimeSpan.FromSeconds(2));
        End();
    }

    public void Reply(EventFrame frame) => Post(frame);

    public void Message(ReadOnlySpan<byte> text) => ReceivedMessage(text);

    protected override ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken)
    {
        if (ReferenceEquals(frame, EventFrame.KeepAlive) && Environment.TickCount64 - Volatile.Read(ref _lastHeard) > _silenceLimit)
        {
            return ValueTask.FromException(new IOException("the client answered no ping for two keep-alive intervals"));
        }
        return Send(frame.WebSocket, cancellationToken);
    }

    /// <summary>When the stream ends on our side (shutdown, the token expired): a close frame, 1001 going away.</summary>
    protected override async Task GoodbyeAsync()
    {
        if (!_closing)
        {
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await Send(GoingAway, patience.Token);
        }
    }
}
