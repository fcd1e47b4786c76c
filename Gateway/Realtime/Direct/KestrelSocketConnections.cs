using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>
/// The one place this gateway reaches past a framework's public API (see docs/architecture.md, "Direct streams").
/// <see cref="DirectStreamTransport"/> accepts sockets itself and hands every connection that is not a stream to
/// Kestrel as Kestrel's own transport would make it: through <see cref="SocketConnectionContextFactory"/> (public)
/// with options built from the transport's settings by the constructor Kestrel's transport uses (not public), which
/// carries the transport's memory pool. The public constructor leaves the pool at a default that Kestrel's HTTP/1.1
/// output cannot write responses into: tried, every response failed (ArgumentOutOfRangeException in
/// <c>BuffersExtensions.WriteMultiSegment</c>), reads at 0.17 of bare Kestrel. No public way keeps an idle stream
/// under 4 KB (Kestrel's own transport, or a connection middleware, keeps its pipes and a pending receive per stream).
/// <para>
/// Should a framework update remove the constructor, <see cref="Available"/> turns false: direct streams are then off
/// (Kestrel serves every connection, streams included, correctly but at about 15 KB more per idle stream), the gateway logs
/// <see cref="Missing"/> at start-up, and <c>DirectStreamTests</c> fails with it.
/// </para>
/// </summary>
public static class KestrelSocketConnections
{
    private static readonly ConstructorInfo? FromTransport = typeof(SocketConnectionFactoryOptions)
        .GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic, [typeof(SocketTransportOptions)]);

    public const string Missing = "Kestrel no longer has SocketConnectionFactoryOptions(SocketTransportOptions): direct streams are off and "
        + "Kestrel serves every stream (about 15 KB more per idle stream); see docs/architecture.md, \"Direct streams\".";

    /// <summary>Whether Kestrel's connection options can be made as its transport makes them.</summary>
    public static bool Available => FromTransport is not null;

    /// <summary>Kestrel's connection options from its transport's settings, memory pool included.</summary>
    public static SocketConnectionFactoryOptions Options(SocketTransportOptions transport)
        => (SocketConnectionFactoryOptions)(FromTransport ?? throw new InvalidOperationException(Missing)).Invoke([transport]);
}
