using System.Net.WebSockets;
using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Presence.Gateway.Auth;
using Presence.Grains.Hosting;

namespace Presence.Gateway.Realtime;

/// <summary>
/// Realtime presence events in Stream's shape: <c>GET /v1/events</c> (Server-Sent Events) and <c>GET /v1/stream</c>
/// (WebSocket), the same events on both. An open stream holds its user online; it watches the users and channels
/// of its query and the caller's Agora subscriptions.
/// </summary>
public static class RealtimeApi
{
    public const string EventsPath = "/v1/events";
    public const string StreamPath = "/v1/stream";

    /// <summary>Browsers cannot set headers on EventSource or WebSocket: streams also take the token as <c>?access_token=</c>.</summary>
    public const string TokenParameter = "access_token";

    /// <summary>The token of a stream's query (<see cref="TokenParameter"/>, given once), if any.</summary>
    public static string? QueryToken(IQueryCollection query) => query[TokenParameter] is [{ Length: > 0 } token] ? token : null;

    public static bool IsStreamPath(PathString path) => Routes(path, EventsPath) || Routes(path, StreamPath);

    /// <summary>Whether routing sends <paramref name="path"/> to <paramref name="route"/>: any case, a trailing slash allowed.</summary>
    private static bool Routes(PathString path, string route)
        => path.StartsWithSegments(route, StringComparison.OrdinalIgnoreCase, out var rest) && (!rest.HasValue || rest.Value == "/");

    public static WebApplicationBuilder AddRealtime(this WebApplicationBuilder builder)
    {
        const string section = RealtimeOptions.Section;
        builder.Services.AddOptions<RealtimeOptions>().BindConfiguration(section)
            .Validate(o => o.DisconnectGrace >= TimeSpan.Zero, $"{section}:DisconnectGrace must not be negative.")
            .Validate(o => o.Lease >= TimeSpan.FromSeconds(3), $"{section}:Lease must be at least 00:00:03.")
            .Validate(o => o.KeepAlive > TimeSpan.Zero, $"{section}:KeepAlive must be a positive duration.")
            .Validate(o => o.MaxChannelsPerConnection > 0 && o.MaxUsersPerConnection > 0 && o.MaxConnectionsPerUser > 0,
                $"{section}: MaxChannelsPerConnection, MaxUsersPerConnection and MaxConnectionsPerUser must be positive.")
            .Validate(o => o.SendBuffer > 0, $"{section}:SendBuffer must be positive.")
            .ValidateOnStart();
        builder.Services.AddSingleton(new ChannelTypes(builder.Configuration));
        builder.Services.AddSingleton<RealtimeMetrics>();
        builder.Services.AddSingleton<PresenceEventHub>();
        builder.Services.AddSingleton<HeldPresence>();
        builder.Services.AddSingleton<StreamRunner>();
        builder.Services.AddHostedService<RealtimeService>();
        return builder;
    }

    /// <summary>
    /// WebSocket handshakes, only where a WebSocket may be asked for (<c>/v1/stream</c>, Stream Chat's <c>/connect</c>):
    /// the middleware sets up a handshake feature on every request it sees.
    /// </summary>
    public static IApplicationBuilder UseRealtimeSockets(this IApplicationBuilder app)
    {
        var keepAlive = app.ApplicationServices.GetRequiredService<IOptions<RealtimeOptions>>().Value.KeepAlive;
        return app.UseWhen(context => Routes(context.Request.Path, StreamPath) || Routes(context.Request.Path, Presence.Gateway.Stream.StreamChatDialect.ConnectPath),
            stream => stream.UseWebSockets(new WebSocketOptions { KeepAliveInterval = keepAlive, KeepAliveTimeout = keepAlive * 2 }));
    }

    public static WebApplication MapRealtimeApi(this WebApplication app)
    {
        var realtime = app.MapDialect<StreamDialect>("/v1");
        realtime.MapGet("/events", Events).WithName("RealtimeEvents");
        realtime.MapGet("/stream", Stream).WithName("RealtimeStream");
        return app;
    }

    public static Results<EventStream, Failure<StreamDialect>> Events(HttpContext http, ChannelTypes channelTypes, IOptions<RealtimeOptions> options)
    {
        var (request, error) = StreamRequest.Read(http.Request.Query, options.Value, channelTypes);
        return error is not null ? error : new EventStream(request!, Transport.Sse);
    }

    public static Results<EventStream, Failure<StreamDialect>> Stream(HttpContext http, ChannelTypes channelTypes, IOptions<RealtimeOptions> options)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return Failure<StreamDialect>.BadRequest("this endpoint is a WebSocket: send an upgrade request (GET with Upgrade: websocket)");
        }
        var (request, error) = StreamRequest.Read(http.Request.Query, options.Value, channelTypes);
        return error is not null ? error : new EventStream(request!, Transport.WebSocket);
    }

    public enum Transport
    {
        Sse,
        WebSocket,
    }
}

/// <summary>
/// Runs one stream: headers (or the upgrade) at once, then the caller's watches and held presence, then a
/// <c>health.check</c> event, then events until the client goes away.
/// </summary>
public sealed class EventStream(StreamRequest request, RealtimeApi.Transport transport) : IResult, IEndpointMetadataProvider
{
    /// <summary>Stream Chat's <c>/connect</c>: its caller is its own (the SDK's token), not the request's.</summary>
    private Caller CallerOf(HttpContext http) => request.StreamChat?.Caller ?? Caller.Of(http);

    private DateTimeOffset? ExpiryOf(HttpContext http) => request.StreamChat is { } streamChat ? streamChat.Expires : StreamRunner.TokenExpiry(http.User);

    public async Task ExecuteAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<IOptions<RealtimeOptions>>().Value;
        var held = services.GetRequiredService<HeldPresence>();
        var runner = services.GetRequiredService<StreamRunner>();
        var caller = CallerOf(http);
        if (!held.TryReserve(caller))
        {
            var tooMany = $"a user may have at most {options.MaxConnectionsPerUser} open streams on a gateway";
            if (request.StreamChat is not null)
            {
                // Stream's SDK retries a refused upgrade for 15 s, then fails without a reason: it is told in the socket.
                await Stream.StreamChatApi.RefuseAsync(http, new(Stream.StreamCodes.RateLimit, tooMany, StatusCodes.Status429TooManyRequests));
                return;
            }
            await StreamDialect.Instance.WriteErrorAsync(http, StatusCodes.Status400BadRequest, tooMany);
            return;
        }
        // A stream ends when the client leaves, when the gateway shuts down (its users then get their grace period,
        // not a lease), and when its token expires (the client reconnects with a fresh one).
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(
            http.RequestAborted, services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        if (ExpiryOf(http) is { } expiresAt)
        {
            lifetime.CancelAfter(StreamRunner.UntilExpiry(expiresAt));
        }
        try
        {
            if (transport == RealtimeApi.Transport.Sse)
            {
                await RunSse(http, runner, caller, options, lifetime.Token);
            }
            else
            {
                await RunWebSocket(http, runner, caller, options, lifetime.Token);
            }
        }
        finally
        {
            await runner.ReleaseQuietly(caller);
        }
    }

    private async Task RunSse(HttpContext http, StreamRunner runner, Caller caller, RealtimeOptions options, CancellationToken lifetime)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no"; // nginx: do not buffer the stream
        await http.Response.StartAsync(lifetime);
        await http.Response.Body.FlushAsync(lifetime);
        var connection = new SseConnection(http, caller, request.Users, request.Channels, options.SendBuffer);
        connection.Start(lifetime);
        await runner.Run(request, connection, "sse", connection.Ended, lifetime);
    }

    private async Task RunWebSocket(HttpContext http, StreamRunner runner, Caller caller, RealtimeOptions options, CancellationToken lifetime)
    {
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        var connection = new WebSocketConnection(socket, caller, request.Users, request.Channels, options.SendBuffer, request.Shape);
        connection.Start(ended.Token);
        // The stream lasts until it ends on our side or the client closes its own.
        var receiving = Receive(socket, connection, ended);
        try
        {
            await runner.Run(request, connection, request.WebSocketTransport, Task.WhenAny(connection.Ended, receiving), ended.Token);
        }
        finally
        {
            await ended.CancelAsync();
        }
    }

    /// <summary>
    /// Reads what the client sends, which also answers pings and the close handshake: text messages of Stream's SDK
    /// (its pings) are handed to the connection whole; a longer one than any the SDK sends ends the stream (1009).
    /// </summary>
    private static async Task Receive(WebSocket socket, StreamConnection connection, CancellationTokenSource ended)
    {
        var keeps = connection.KeptMessageBytes > 0;
        var buffer = new byte[keeps ? connection.KeptMessageBytes : 128];
        var length = 0;
        try
        {
            while (!ended.IsCancellationRequested)
            {
                var received = await socket.ReceiveAsync(buffer.AsMemory(keeps ? length : 0), ended.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                if (!keeps)
                {
                    continue;
                }
                length += received.Count;
                if (!received.EndOfMessage && length == buffer.Length)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "a message is at most 4096 bytes", CancellationToken.None);
                    return;
                }
                if (received.EndOfMessage)
                {
                    if (received.MessageType == WebSocketMessageType.Text)
                    {
                        connection.ReceivedMessage(buffer.AsSpan(0, length));
                    }
                    length = 0;
                }
            }
        }
        catch (Exception error) when (error is WebSocketException or OperationCanceledException)
        {
            // The connection is gone.
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), ["text/event-stream"]));
}
