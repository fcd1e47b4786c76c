using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>
/// Makes Kestrel's connection for a socket <see cref="DirectStreamTransport"/> accepted, with public API only
/// (see docs/architecture.md, "Direct streams"): <see cref="SocketConnectionContextFactory"/> with options copied from
/// the transport's settings, and a pool from the memory pool factory Kestrel's own transport takes its pools from
/// (<see cref="IMemoryPoolFactory{T}"/>, in the host's services) offered to Kestrel's HTTP layer as the connection's
/// <see cref="IMemoryPoolFeature"/>.
/// <para>
/// The pool matters: a factory made from public options gives its connections the shared array pool, and Kestrel's
/// HTTP/1.1 output, renting from the connection's pool for a body written before the headers, asks it for "any size"
/// (0), which the shared array pool answers with an empty buffer: every such response failed with
/// <c>ArgumentOutOfRangeException</c> in <c>BuffersExtensions.WriteMultiSegment</c>. The socket's own pipes may stay
/// on the shared pool (a pipe asks for whole segments).
/// </para>
/// </summary>
public sealed class KestrelSocketConnections : IDisposable
{
    private static readonly MemoryPoolOptions PoolOwner = new() { Owner = "kestrel" };

    private readonly SocketConnectionContextFactory _factory;
    private readonly MemoryPool<byte> _pool;

    public KestrelSocketConnections(SocketTransportOptions transport, IMemoryPoolFactory<byte> pools, ILogger logger)
    {
        _factory = new SocketConnectionContextFactory(Options(transport), logger);
        _pool = pools.Create(PoolOwner);
    }

    /// <summary>Kestrel's connection options, as its transport makes them from its settings (its memory pool aside).</summary>
    public static SocketConnectionFactoryOptions Options(SocketTransportOptions transport) => new()
    {
        IOQueueCount = transport.IOQueueCount,
        WaitForDataBeforeAllocatingBuffer = transport.WaitForDataBeforeAllocatingBuffer,
        MaxReadBufferSize = transport.MaxReadBufferSize,
        MaxWriteBufferSize = transport.MaxWriteBufferSize,
        UnsafePreferInlineScheduling = transport.UnsafePreferInlineScheduling,
    };

    /// <summary>Kestrel's connection for <paramref name="socket"/>, already receiving.</summary>
    public ConnectionContext Create(System.Net.Sockets.Socket socket) => new Pooled(_factory.Create(socket), _pool);

    public void Dispose()
    {
        _factory.Dispose();
        _pool.Dispose();
    }

    /// <summary>
    /// The socket's connection, with <see cref="IMemoryPoolFeature"/> answered by <see cref="KestrelSocketConnections"/>'s
    /// pool; everything else is the socket connection's own (its features stay underneath, and what Kestrel sets on the
    /// connection is kept here).
    /// </summary>
    private sealed class Pooled : ConnectionContext, IMemoryPoolFeature
    {
        private readonly ConnectionContext _socket;

        public Pooled(ConnectionContext socket, MemoryPool<byte> pool)
        {
            _socket = socket;
            MemoryPool = pool;
            Features = new FeatureCollection(socket.Features);
            Features.Set<IMemoryPoolFeature>(this);
        }

        public MemoryPool<byte> MemoryPool { get; }

        public override IFeatureCollection Features { get; }

        public override string ConnectionId
        {
            get => _socket.ConnectionId;
            set => _socket.ConnectionId = value;
        }

        public override IDictionary<object, object?> Items
        {
            get => _socket.Items;
            set => _socket.Items = value;
        }

        public override IDuplexPipe Transport
        {
            get => _socket.Transport;
            set => _socket.Transport = value;
        }

        public override CancellationToken ConnectionClosed
        {
            get => _socket.ConnectionClosed;
            set => _socket.ConnectionClosed = value;
        }

        public override EndPoint? LocalEndPoint
        {
            get => _socket.LocalEndPoint;
            set => _socket.LocalEndPoint = value;
        }

        public override EndPoint? RemoteEndPoint
        {
            get => _socket.RemoteEndPoint;
            set => _socket.RemoteEndPoint = value;
        }

        public override void Abort(ConnectionAbortedException abortReason) => _socket.Abort(abortReason);

        public override void Abort() => _socket.Abort();

        public override ValueTask DisposeAsync() => _socket.DisposeAsync();
    }
}
