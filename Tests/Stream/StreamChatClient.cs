using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.IdentityModel.Tokens;
using Presence.Tests.Support;

namespace Presence.Tests.Stream;

/// <summary>Stream's tokens, REST calls and sockets as its SDK makes them, for contract tests.</summary>
public static class StreamChatClient
{
    /// <summary>HS256 over exactly these claims, as the SDK's createToken does.</summary>
    public static string Sign(string claims, string secret = StreamChatGatewayFactory.Secret)
    {
        static string Segment(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var unsigned = Segment("""{"alg":"HS256","typ":"JWT"}""") + "." + Segment(claims);
        using var hmac = new System.Security.Cryptography.HMACSHA256(Encoding.UTF8.GetBytes(secret));
        return unsigned + "." + Base64UrlEncoder.Encode(hmac.ComputeHash(Encoding.ASCII.GetBytes(unsigned)));
    }

    public static string UserToken(string userId, string secret = StreamChatGatewayFactory.Secret) => Sign($$"""{"user_id":"{{userId}}"}""", secret);

    public static string ServerToken() => Sign("""{"server":true}""");

    /// <summary>The SDK's devToken(id): a fixed header, the payload in standard base64 with padding, and "devtoken".</summary>
    public static string DevToken(string userId)
        => "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + Convert.ToBase64String(Encoding.UTF8.GetBytes($$"""{"user_id":"{{userId}}"}""")) + ".devtoken";

    /// <summary>A REST client as the SDK's: the raw token in Authorization, <c>stream-auth-type: jwt</c>.</summary>
    public static HttpClient Rest(Uri address, string token)
    {
        var client = new HttpClient { BaseAddress = address };
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", token);
        client.DefaultRequestHeaders.Add("stream-auth-type", "jwt");
        return client;
    }

    /// <summary>A route with the SDK's common query: <c>api_key</c>, and <c>connection_id</c> when given.</summary>
    public static string Route(string path, string? connectionId = null, string apiKey = StreamChatGatewayFactory.Key)
        => path + (path.Contains('?') ? "&" : "?") + "api_key=" + apiKey + (connectionId is null ? "" : "&connection_id=" + Uri.EscapeDataString(connectionId));

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(int Status, JsonElement Body)> Read(HttpResponseMessage response)
        => ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
}

/// <summary>A <c>/connect</c> socket: the frames it receives, in order.</summary>
public sealed class StreamSocket : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private StreamSocket(ClientWebSocket socket)
    {
        _socket = socket;
        _ = Read();
    }

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    /// <summary>Completes when the server closed the socket (or it broke).</summary>
    public Task Closed => _closed.Task;

    /// <summary>The query the SDK sends: <c>json</c>, <c>api_key</c>, <c>authorization</c>, <c>stream-auth-type</c>, <c>X-Stream-Client</c>.</summary>
    public static string Query(string token, string json, string apiKey = StreamChatGatewayFactory.Key)
        => "json=" + Uri.EscapeDataString(json) + "&api_key=" + apiKey + "&authorization=" + Uri.EscapeDataString(token)
            + "&stream-auth-type=jwt&X-Stream-Client=" + Uri.EscapeDataString("stream-chat-js-v9.53.0-node|client_bundle=node-cjs");

    public static string Details(string userId, string details = "") => $$"""{"user_id":"{{userId}}","user_details":{"id":"{{userId}}"{{details}}},"client_request_id":"{{Guid.NewGuid()}}"}""";

    public static async Task<StreamSocket> Open(Uri address, string query)
    {
        var socket = new ClientWebSocket();
        var uri = new UriBuilder(address) { Scheme = "ws", Path = "/connect", Query = query }.Uri;
        await socket.ConnectAsync(uri, CancellationToken.None);
        return new StreamSocket(socket);
    }

    /// <summary>Connects and returns the first frame.</summary>
    public static async Task<(StreamSocket Socket, JsonElement First)> Connect(Uri address, string userId, string details = "", string? token = null)
    {
        var socket = await Open(address, Query(token ?? StreamChatClient.UserToken(userId), Details(userId, details)));
        return (socket, await socket.Next());
    }

    public async Task<JsonElement> Next()
    {
        using var patience = new CancellationTokenSource(Patience);
        return await _frames.Reader.ReadAsync(patience.Token);
    }

    /// <summary>The next frame that matches, skipping others.</summary>
    public async Task<JsonElement> Next(Func<JsonElement, bool> matches, TimeSpan? within = null)
    {
        using var patience = new CancellationTokenSource(within ?? Patience);
        while (true)
        {
            var frame = await _frames.Reader.ReadAsync(patience.Token);
            if (matches(frame))
            {
                return frame;
            }
        }
    }

    public static Func<JsonElement, bool> OfType(string type) => frame => frame.TryGetProperty("type", out var t) && t.GetString() == type;

    public Task Send(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task Send(byte[] bytes, WebSocketMessageType type) => _socket.SendAsync(bytes, type, true, CancellationToken.None);

    /// <summary>The SDK's heartbeat.</summary>
    public Task Ping(string userId) => Send($$"""[{"type":"health.check","client_id":"{{userId}}--{{Guid.NewGuid()}}"}]""");

    public async Task Close()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var patience = new CancellationTokenSource(Patience);
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", patience.Token);
        }
    }

    private async Task Read()
    {
        try
        {
            await WebSocketMessages.ReadAll(_socket, message => _frames.Writer.TryWrite(JsonDocument.Parse(message).RootElement.Clone()));
        }
        catch (Exception error) when (error is WebSocketException or IOException or ObjectDisposedException)
        {
            // Broken.
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Close();
        }
        catch (Exception error) when (error is WebSocketException or OperationCanceledException)
        {
            // Already gone.
        }
        _socket.Dispose();
    }
}
