using System.Buffers;
using System.Net.Sockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>
/// Streams served on their own sockets, beside Kestrel's HTTP. An open stream is idle nearly all its life, and in
/// Kestrel each one keeps a whole request in flight: its connection, request and response state, pipes and
/// middleware frames (about 11 KB of managed heap in a census, about 15 KB of the process's memory). A connection
/// whose first request opens a stream, with a valid token and query, is taken here instead: what stays per stream is
/// the socket and the stream's own state.
/// <para>
/// Nothing is read from the socket until the request is known to be served here: its head is only peeked at. Every
/// other connection (another route, a bad token or query, a limit reached, TLS, HTTP/2, a head that is odd in any
/// way) goes to Kestrel untouched, which serves it, or refuses it in the realtime dialect's format.
/// </para>
/// </summary>
public sealed partial class DirectStreams(
    StreamRunner runner,
    HeldPresence held,
    ValidatedTokenCache tokens,
    Stream.StreamTokens streamTokens,
    IOptionsMonitor<JwtBearerOptions> bearer,
    ChannelTypes channelTypes,
    IOptions<RealtimeOptions> options,
    PresenceEventHub hub,
    IdleSockets idle,
    IHostApplicationLifetime lifetime,
    IOptions<Hosting.GatewayHttpOptions> http,
    ILogger<DirectStreams> logger)
{
    private readonly bool _crossOrigin = http.Value.CorsOrigins.Length > 0;

    // No stream links its own end to shutdown (a registration each): the hub ends them all at once.
    private readonly CancellationTokenRegistration _shutdown = lifetime.ApplicationStopping.Register(static hub => ((PresenceEventHub)hub!).EndAll(), hub);

    // A client sends its request at once; one that is silent this long is left to Kestrel's own timeouts.
    private static readonly TimeSpan FirstBytesPatience = TimeSpan.FromSeconds(5);
    // A head split over several packets: how long to wait for the rest before leaving it to Kestrel.
    private const int RestOfHeadMilliseconds = 2000;

    private readonly JsonWebTokenHandler _tokens = new() { MapInboundClaims = false };
    private long _served;

    /// <summary>Streams served here since start.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>
    /// Serves the connection if its first request opens a stream that can be served here (then it owns the socket
    /// and returns true at once); false leaves the connection, unread, to Kestrel.
    /// </summary>
    public async Task<bool> TryTakeAsync(Socket socket)
    {
        StreamRequestHead? head;
        Caller caller;
        DateTimeOffset? expires;
        StreamRequest? request;
        try
        {
            socket.Blocking = false; // every read and write here must return at once
            head = await PeekHead(socket);
            // A browser's cross-origin event stream is Kestrel's when CORS is configured: its middleware answers it.
            if (head is null || (head.HasOrigin && head.Transport == RealtimeApi.Transport.Sse && _crossOrigin))
            {
                return Decline(socket);
            }
            var query = new QueryCollection(QueryHelpers.ParseQuery(head.Query));
            if (head.IsStreamChat)
            {
                // Stream's SDK: its own token, in its query; a refusal is Kestrel's to send, as the socket's one frame.
                if (await Stream.StreamChatConnect.ReadAsync(query, streamTokens) is not ({ } connect, null) || !held.TryReserve(connect.Caller))
                {
                    return Decline(socket);
                }
                (caller, expires, request) = (connect.Caller, connect.Expires, new StreamRequest([], []) { StreamChat = connect });
            }
            else
            {
                if (TokenOf(head, query) is not { } token || await Validate(token) is not { } validated)
                {
                    return Decline(socket);
                }
                (caller, expires) = validated;
                Failure<StreamDialect>? error;
                (request, error) = StreamRequest.Read(query, options.Value, channelTypes);
                if (error is not null || !held.TryReserve(caller))
                {
                    return Decline(socket);
                }
            }
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            return Decline(socket);
        }
        if (!Consume(socket, head.Length))
        {
            socket.Dispose();
            await runner.ReleaseQuietly(caller);
            return true;
        }
        Interlocked.Increment(ref _served);
        var settings = options.Value;
        var (connection, transport) = head.Transport == RealtimeApi.Transport.Sse
            ? ((DirectConnection)new DirectSseConnection(socket, idle, caller, request!.Users, request.Channels, settings.SendBuffer), "sse")
            : (new DirectWebSocketConnection(socket, idle, caller, request!.Users, request.Channels, settings.SendBuffer, settings.KeepAlive, request.Shape),
                request.WebSocketTransport);
        // The head is not kept: an open stream holds no request strings (its token among them).
        _ = Serve(connection, connection.Response(head), transport, expires, request);
        return true;
    }

    private async Task Serve(DirectConnection connection, byte[] response, string transport, DateTimeOffset? expires, StreamRequest request)
    {
        // The stream ends when the client leaves, when its token expires, and at shutdown (the hub ends every
        // stream then). The connection owns this once started.
        var ends = new CancellationTokenSource();
        if (expires is { } at)
        {
            ends.CancelAfter(StreamRunner.UntilExpiry(at));
        }
        try
        {
            await connection.AcceptAsync(response, ends.Token);
        }
        catch (Exception error)
        {
            // The client left before its stream opened.
            ends.Dispose();
            LogNotOpened(error, connection.Id);
            await Finish(connection, transport, started: false);
            return;
        }
        connection.Start(ends);
        connection.StartReceiving(); // ends the stream when the client leaves
        if (!await runner.OpenAsync(request, connection, transport, ends.Token))
        {
            await Finish(connection, transport, started: true);
            return;
        }
        // From here the stream lives on its own: no method waits for its end (each would keep its frame for the
        // stream's whole life); a continuation closes it.
        _ = connection.Ended.ContinueWith(
            static (_, state) => ((DirectStreams Streams, DirectConnection Connection, string Transport))state! is var (streams, ended, name)
                ? streams.Finish(ended, name, started: true)
                : Task.CompletedTask,
            (this, connection, transport), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>Closes a stream; <paramref name="started"/>: whether the runner saw it (then the runner closes it too).</summary>
    private async Task Finish(DirectConnection connection, string transport, bool started)
    {
        if (started)
        {
            await runner.CloseAsync(connection, transport);
        }
        await connection.CloseAsync();
        await runner.ReleaseQuietly(connection.Caller);
    }

    /// <summary>Leaves the connection to Kestrel, as it was.</summary>
    private static bool Decline(Socket socket)
    {
        try
        {
            socket.Blocking = true;
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            // Gone already: Kestrel finds out by itself.
        }
        return false;
    }

    /// <summary>The request head, if the connection's first bytes are a stream request: peeked, not read.</summary>
    private async Task<StreamRequestHead?> PeekHead(Socket socket)
    {
        var first = new FirstBytes();
        var waiting = idle.NewToken();
        idle.Watch(socket, waiting, first);
        try
        {
            await first.Arrived.Task.WaitAsync(FirstBytesPatience);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            idle.Forget(socket, waiting);
        }
        var buffer = ArrayPool<byte>.Shared.Rent(StreamRequestHead.MaxLength);
        try
        {
            var deadline = Environment.TickCount64 + RestOfHeadMilliseconds;
            while (true)
            {
                var peeked = socket.Receive(buffer.AsSpan(0, StreamRequestHead.MaxLength), SocketFlags.Peek, out var error);
                if (error is not (SocketError.Success or SocketError.WouldBlock) || (error == SocketError.Success && peeked == 0))
                {
                    return null; // closed before saying anything: Kestrel sees that too
                }
                switch (StreamRequestHead.Read(buffer.AsSpan(0, Math.Max(peeked, 0)), out var head))
                {
                    case HeadVerdict.Stream:
                        return head;
                    case HeadVerdict.Incomplete when Environment.TickCount64 < deadline:
                        // Waiting for readability again would fire at once: what is there stays readable until read.
                        await Task.Delay(10);
                        continue;
                    default:
                        return null;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the head for real (it is already in the socket's buffer); false if the connection broke meanwhile.</summary>
    private static bool Consume(Socket socket, int length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            for (var read = 0; read < length;)
            {
                var received = socket.Receive(buffer.AsSpan(read, length - read), SocketFlags.None, out var error);
                if (error != SocketError.Success || received == 0)
                {
                    return false;
                }
                read += received;
            }
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A connection's first bytes arriving.</summary>
    private sealed class FirstBytes : IReadableSocket
    {
        public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Execute() => Arrived.TrySetResult();
    }

    /// <summary>The token as the gateway's authentication takes it: a bearer header, else X-Auth-Token, else access_token.</summary>
    private static string? TokenOf(StreamRequestHead head, IQueryCollection query)
    {
        if (head.Authorization is { Length: > 0 } authorization)
        {
            return PresenceAuthExtensions.Bearer(authorization) is { IsEmpty: false } bearer ? bearer.ToString() : null;
        }
        return head.AuthToken is { Length: > 0 } authToken ? authToken : RealtimeApi.QueryToken(query);
    }

    /// <summary>The token's caller and expiry, as the JwtBearer handler would accept it (a cached validation first).</summary>
    private async Task<(Caller Caller, DateTimeOffset? Expires)?> Validate(string token)
    {
        if (tokens.TryGet(token, out var entry))
        {
            return (entry.Caller, StreamRunner.TokenExpiry(entry.Principal));
        }
        var parameters = bearer.Get(JwtBearerDefaults.AuthenticationScheme).TokenValidationParameters;
        var result = await _tokens.ValidateTokenAsync(token, parameters);
        if (!result.IsValid || Caller.FromPrincipal(new ClaimsPrincipal(result.ClaimsIdentity)) is not { } caller)
        {
            return null;
        }
        var validTo = result.SecurityToken.ValidTo;
        return (caller, validTo > DateTime.MinValue ? new DateTimeOffset(validTo, TimeSpan.Zero) : null);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Direct stream {ConnectionId} did not open")]
    private partial void LogNotOpened(Exception error, string connectionId);
}
