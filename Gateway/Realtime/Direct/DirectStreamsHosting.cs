using Microsoft.AspNetCore.Connections;

namespace Presence.Gateway.Realtime.Direct;

public static class DirectStreamsHosting
{
    /// <summary>
    /// Serves a connection whose first request opens a realtime stream on its own socket, beside Kestrel
    /// (<see cref="DirectStreams"/>): an idle stream then costs about 3 KB instead of the ~15 KB of a request held open
    /// in Kestrel. It plugs in where Kestrel supports it: an <see cref="IConnectionListenerFactory"/> registered after
    /// Kestrel's socket transport (Kestrel tries the last registered first) that binds plain TCP endpoints on Linux
    /// while every endpoint is plain HTTP/1.1, and builds Kestrel's own socket connections, through the transport's
    /// public connection factory, for everything that is not such a stream (REST included).
    /// <para>
    /// Called by the gateway's Program and on by default, because the memory target of an idle stream (under 4 KB) is met
    /// only this way (docs/architecture.md, "Direct streams"). <c>Presence:Realtime:DirectStreams=false</c> turns it
    /// off at start-up: the factory then binds nothing, and Kestrel's transport serves every connection. A host that
    /// composes its own gateway leaves it out by not calling this.
    /// </para>
    /// </summary>
    public static WebApplicationBuilder AddDirectStreams(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DirectStreams>();
        builder.Services.AddSingleton<IdleSockets>();
        builder.Services.AddSingleton<IConnectionListenerFactory, DirectStreamTransport>();
        return builder;
    }
}
