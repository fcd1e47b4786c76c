using Microsoft.AspNetCore.Connections;

namespace Presence.Gateway.Realtime.Direct;

public static class DirectStreamsHosting
{
    /// <summary>
    /// Serves a connection whose first request opens a realtime stream on its own socket, beside Kestrel
    /// (<see cref="DirectStreams"/>): an idle stream then costs about 3 KB, where a request held open in Kestrel costs
    /// about 15 KB more. It plugs in where Kestrel supports it: an <see cref="IConnectionListenerFactory"/> registered after
    /// Kestrel's socket transport (Kestrel tries the last registered first) that binds plain TCP endpoints on Linux
    /// while every endpoint is plain HTTP/1.1, and makes every connection that is not such a stream (REST included)
    /// Kestrel's as its own transport would (<see cref="KestrelSocketConnections"/>).
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
