using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Gateway.Hosting;
using Presence.Gateway.Realtime;
using Presence.Users;

namespace Presence.Gateway.Stream;

/// <summary>
/// Stream Chat's own protocol, for its published SDK (<c>new StreamChat(key, { baseURL })</c>) unchanged:
/// <c>/connect</c> (the socket), <c>GET /users</c>, <c>POST /users</c>, <c>PATCH /users</c>, <c>POST /channels</c>,
/// <c>POST /channels/{type}/{id}/query</c> and <c>/stop-watching</c>, all on the one presence model. Tokens are the
/// app's (<c>Presence:Stream:Apps</c>), not this service's. This service is not a message store: channels answer with
/// their members and watchers, and no messages.
/// </summary>
public static partial class StreamChatApi
{
    public static WebApplication MapStreamChatApi(this WebApplication app)
    {
        var dialect = StreamChatDialect.Instance;
        app.Services.GetRequiredService<DialectRegistry>().Add(dialect);
        var routes = app.MapGroup("")
            .AllowAnonymous() // the app's own tokens, checked by each route (StreamChatAuth)
            .WithTags(dialect.Name)
            .WithMetadata(new DialectMetadata(dialect));
        routes.MapGet(StreamChatDialect.ConnectPath, Connect).WithName("StreamChatConnect");
        // The REST routes: each call's token checked before the route runs (the socket answers its own refusals).
        routes = routes.MapGroup("").AddEndpointFilter(StreamChatAuth.Filter);
        routes.MapGet("/users", QueryUsers).WithName("StreamChatQueryUsers");
        routes.MapPost("/users", UpsertUsers).WithName("StreamChatUpsertUsers").ReadsBody<StreamChatDialect>();
        routes.MapPatch("/users", PartialUpdateUsers).WithName("StreamChatPartialUpdateUsers").ReadsBody<StreamChatDialect>();
        routes.MapPost("/channels", QueryChannels).WithName("StreamChatQueryChannels").ReadsBody<StreamChatDialect>();
        routes.MapPost("/channels/{type}/{id}/query", QueryChannel).WithName("StreamChatQueryChannel").ReadsBody<StreamChatDialect>();
        routes.MapPost("/channels/{type}/{id}/stop-watching", StopWatching).WithName("StreamChatStopWatching").ReadsBody<StreamChatDialect>();
        return app;
    }

    /// <summary>
    /// The socket. Always upgraded, as the SDK expects: a refused one gets one error frame (<c>{"error":{"code":40,...}}</c>)
    /// and closes with 1000, which the SDK does not retry; an accepted one is a presence stream like <c>/v1/stream</c>.
    /// </summary>
    public static async Task<Results<StreamChatSocket, EmptyHttpResult, StreamChatFailure>> Connect(HttpContext http, StreamTokens tokens)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return StreamChatFailure.BadRequest("this endpoint is a WebSocket: send an upgrade request (GET with Upgrade: websocket)");
        }
        var (connect, refusal) = await StreamChatConnect.ReadAsync(http.Request.Query, tokens);
        if (refusal is not null)
        {
            await RefuseAsync(http, refusal);
            return TypedResults.Empty;
        }
        return new StreamChatSocket(new EventStream(new StreamRequest([], []) { StreamChat = connect }, RealtimeApi.Transport.WebSocket));
    }

    /// <summary>Accepts the upgrade, sends the refusal as the one frame, and closes with 1000, as Stream does.</summary>
    public static async Task RefuseAsync(HttpContext http, StreamChatRefusal refusal)
    {
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.SendAsync(StreamChatEvents.Refusal(refusal.Code, refusal.Message, refusal.StatusCode),
                System.Net.WebSockets.WebSocketMessageType.Text, endOfMessage: true, patience.Token);
            await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "refused", patience.Token);
        }
        catch (Exception error) when (error is System.Net.WebSockets.WebSocketException or OperationCanceledException)
        {
            // The client left first.
        }
    }

    /// <summary>
    /// The caller's socket named by <c>connection_id</c>, if any is named. One that is not the caller's open socket on
    /// this gateway is refused (46): a watch must reach the gateway holding the socket.
    /// </summary>
    private static (StreamConnection?, StreamChatFailure?) Connection(HttpContext http, StreamCaller caller, StreamChatConnections connections)
    {
        if (http.Request.Query["connection_id"] is not [{ Length: > 0 } id] || caller.IsServer)
        {
            return (null, null);
        }
        return connections.Find(caller.Tenant, caller.UserId!, id) is { } connection
            ? (connection, null)
            : (null, new StreamChatFailure(StatusCodes.Status400BadRequest, StreamCodes.ConnectionIdNotFound,
                $"connection_id '{id}' is not an open connection of this user on this gateway (route a client's REST calls to the gateway of its socket)"));
    }

    private static StreamChatOk<T> Ok<T>(T body) => new(body);

    /// <summary>Stream's <c>duration</c>: the time the call took, as <c>"1.23ms"</c>.</summary>
    private static string Duration(long started)
        => Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("0.00", CultureInfo.InvariantCulture) + "ms";
}

/// <summary>An accepted <c>/connect</c>: the realtime stream it runs, described in OpenAPI as the WebSocket upgrade it is (101).</summary>
public sealed class StreamChatSocket(EventStream stream) : IResult, Microsoft.AspNetCore.Http.Metadata.IEndpointMetadataProvider
{
    public Task ExecuteAsync(HttpContext httpContext) => stream.ExecuteAsync(httpContext);

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status101SwitchingProtocols, typeof(void), []));
}
