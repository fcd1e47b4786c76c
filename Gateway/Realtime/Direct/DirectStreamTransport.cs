using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>
/// Kestrel's socket transport for TCP endpoints, with one step before Kestrel sees a connection: a connection whose
/// first request opens a realtime stream is given to <see cref="DirectStreams"/> (see there why). Every other
/// connection becomes Kestrel's as its own transport would make it (<see cref="SocketConnectionContextFactory"/>,
/// with Kestrel's socket options and memory pool, through <see cref="KestrelSocketConnections"/>). Only on Linux, and while every configured endpoint is plain HTTP/1.1; off with
/// <c>Presence:Realtime:DirectStreams=false</c>. Other endpoint kinds (Unix sockets, inherited handles) always use
/// Kestrel's transport.
/// </summary>
public sealed partial class DirectStreamTransport(
    IOptions<SocketTransportOptions> socketOptions,
    IOptions<RealtimeOptions> realtime,
    IConfiguration configuration,
    IServiceProvider services,
    ILoggerFactory loggers) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    // Off as soon as any endpoint is HTTPS, or speaks no HTTP/1.1: the transport only sees addresses, and a stream
    // served here would skip the TLS (or the protocol choice) configured for it. TLS in front, in a proxy, keeps it on.
    private readonly bool _plainHttp1 = IsPlainHttp1(configuration);

    public bool CanBind(EndPoint endpoint)
        => realtime.Value.DirectStreams && _plainHttp1 && endpoint is IPEndPoint && IdleSockets.IsSupported;

    /// <summary>Whether every endpoint configured (URLs, HTTPS ports, Kestrel's endpoints and defaults) is plain HTTP/1.x.</summary>
    public static bool IsPlainHttp1(IConfiguration configuration)
    {
        var kestrel = configuration.GetSection("Kestrel");
        var urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(kestrel.GetSection("Endpoints").GetChildren().Select(e => e["Url"] ?? ""));
        var protocols = kestrel.GetSection("Endpoints").GetChildren().Select(e => e["Protocols"])
            .Append(kestrel["EndpointDefaults:Protocols"])
            .Where(p => !string.IsNullOrEmpty(p));
        return string.IsNullOrEmpty(configuration["https_ports"])
            && !urls.Any(u => u.StartsWith("https:", StringComparison.OrdinalIgnoreCase))
            && protocols.All(p => p!.Contains("Http1", StringComparison.OrdinalIgnoreCase));
    }

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var options = socketOptions.Value;
        Socket socket;
        try
        {
            socket = options.CreateBoundListenSocket(endpoint);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(error.Message, error); // what Kestrel's transport throws, so its fallbacks apply
        }
        socket.Listen(options.Backlog);
        var kestrel = new KestrelSocketConnections(options, services.GetRequiredService<IMemoryPoolFactory<byte>>(),
            loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
        var listener = new Listener(socket, kestrel, options.NoDelay, services.GetRequiredService<DirectStreams>(), loggers.CreateLogger<DirectStreamTransport>());
        return ValueTask.FromResult<IConnectionListener>(listener);
    }

    private sealed partial class Listener : IConnectionListener
    {
        private readonly Socket _socket;
        private readonly KestrelSocketConnections _kestrel;
        private readonly bool _noDelay;
        private readonly DirectStreams _streams;
        private readonly ILogger _logger;
        // Connections for Kestrel, in the order they were found to be Kestrel's.
        private readonly Channel<ConnectionContext> _forKestrel = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Task _accepting;

        public Listener(Socket socket, KestrelSocketConnections kestrel, bool noDelay, DirectStreams streams, ILogger logger)
        {
            _socket = socket;
            _kestrel = kestrel;
            _noDelay = noDelay;
            _streams = streams;
            _logger = logger;
            EndPoint = socket.LocalEndPoint!;
            _accepting = AcceptLoop();
        }

        public EndPoint EndPoint { get; }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await _forKestrel.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null; // unbound: Kestrel's accept loop ends
            }
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _socket.Dispose();
            await _accepting;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            while (_forKestrel.Reader.TryRead(out var unclaimed))
            {
                await unclaimed.DisposeAsync();
            }
            _kestrel.Dispose();
        }

        private async Task AcceptLoop()
        {
            var backoff = TimeSpan.Zero;
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await _socket.AcceptAsync();
                    backoff = TimeSpan.Zero;
                }
                catch (Exception error) when (error is ObjectDisposedException || error is SocketException { SocketErrorCode: SocketError.OperationAborted })
                {
                    break; // unbound
                }
                catch (SocketException error) when (error.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    continue; // reset while in the backlog
                }
                catch (SocketException error)
                {
                    // Out of file descriptors or memory: retrying at once would spin on the same error. Connections
                    // wait in the backlog meanwhile, and are accepted again as soon as some close.
                    backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.TicksPerSecond));
                    LogAcceptFailed(_logger, error.SocketErrorCode, backoff.TotalMilliseconds);
                    await Task.Delay(backoff);
                    continue;
                }
                try
                {
                    accepted.NoDelay = _noDelay;
                }
                catch (Exception error) when (error is SocketException or ObjectDisposedException)
                {
                    accepted.Dispose(); // reset already
                    continue;
                }
                _ = Route(accepted);
            }
            _forKestrel.Writer.TryComplete();
        }

        private async Task Route(Socket socket)
        {
            try
            {
                if (await _streams.TryTakeAsync(socket))
                {
                    return;
                }
            }
            catch (Exception error)
            {
                // Nothing was read from the socket: Kestrel can still serve it.
                LogRoutingFailed(_logger, error);
            }
            try
            {
                if (_forKestrel.Writer.TryWrite(_kestrel.Create(socket)))
                {
                    return;
                }
            }
            catch (ObjectDisposedException)
            {
                // Disposed meanwhile (shutting down).
            }
            socket.Dispose(); // unbound meanwhile
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not accept a connection ({Error}); trying again in {DelayMs} ms")]
        private static partial void LogAcceptFailed(ILogger logger, SocketError error, double delayMs);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell whether a connection opens a stream; Kestrel serves it")]
        private static partial void LogRoutingFailed(ILogger logger, Exception error);
    }
}
