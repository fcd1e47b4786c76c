using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Presence.Tests.Support;

/// <summary>
/// A realtime client in a test: the events it received, in order. Opening one waits for its health.check, after
/// which its watches are in place.
/// </summary>
public abstract class EventClient : IAsyncDisposable
{
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();

    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>The health.check event the stream opened with.</summary>
    public JsonElement Hello { get; private set; }

    /// <summary>Comment lines (SSE keep-alives) received so far.</summary>
    public int KeepAlives { get; protected set; }

    protected void Received(string json) => _events.Writer.TryWrite(JsonDocument.Parse(json).RootElement.Clone());

    protected void Ended() => _events.Writer.TryComplete();

    /// <summary>The stream's very first event must be its health.check (clients treat it as "connected").</summary>
    protected async Task Opened()
    {
        using var timeout = new CancellationTokenSource(Patience);
        Hello = await _events.Reader.ReadAsync(timeout.Token);
        Assert.Equal("health.check", Hello.GetProperty("type").GetString());
    }

    /// <summary>The next event of <paramref name="type"/> matching <paramref name="match"/>; events before it are skipped.</summary>
    public async Task<JsonElement> Next(string type, Func<JsonElement, bool>? match = null)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            JsonElement next;
            try
            {
                next = await _events.Reader.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no {type} event within {Patience}");
            }
            if (next.GetProperty("type").GetString() == type && (match is null || match(next)))
            {
                return next;
            }
        }
    }

    /// <summary>The next user.presence.changed of <paramref name="userId"/>.</summary>
    public Task<JsonElement> NextUserChange(string userId)
        => Next("user.presence.changed", e => e.GetProperty("user").GetProperty("id").GetString() == userId);

    /// <summary>Asserts that nothing arrives for <paramref name="quiet"/> (events already received included).</summary>
    public async Task AssertNoEvent(TimeSpan quiet, Func<JsonElement, bool>? match = null)
    {
        using var timeout = new CancellationTokenSource(quiet);
        try
        {
            while (true)
            {
                var next = await _events.Reader.ReadAsync(timeout.Token);
                Assert.False(match is null || match(next), $"unexpected event: {next}");
            }
        }
        catch (OperationCanceledException)
        {
            // Quiet, as expected.
        }
        catch (ChannelClosedException)
        {
            // Ended: nothing more can arrive.
        }
    }

    /// <summary>Waits until the server ends the stream.</summary>
    public async Task AssertEnded()
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (await _events.Reader.WaitToReadAsync(timeout.Token))
        {
            _events.Reader.TryRead(out _);
        }
    }

    public abstract ValueTask DisposeAsync();
}

/// <summary>A Server-Sent Events client reading <c>/v1/events</c>.</summary>
public sealed class SseClient : EventClient
{
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private HttpResponseMessage? _response;
    private Task? _reading;

    private SseClient(HttpClient http) => _http = http;

    public HttpResponseMessage Response => _response!;

    public static Task<SseClient> Open(WebApplicationFactory<Program> factory, string token, string query = "", bool tokenInQuery = false)
        => Open(factory.CreateClient(), token, query, tokenInQuery);

    /// <summary>Opens a stream through <paramref name="http"/> (which the client then owns), e.g. to a gateway process.</summary>
    public static async Task<SseClient> Open(HttpClient http, string token, string query = "", bool tokenInQuery = false)
    {
        http.Timeout = Timeout.InfiniteTimeSpan;
        var client = new SseClient(http);
        var path = "/v1/events?" + query + (tokenInQuery ? "&access_token=" + Uri.EscapeDataString(token) : "");
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (!tokenInQuery)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        client._response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(System.Net.HttpStatusCode.OK, client._response.StatusCode);
        Assert.Equal("text/event-stream", client._response.Content.Headers.ContentType?.MediaType);
        client._reading = client.Read();
        await client.Opened();
        return client;
    }

    private async Task Read()
    {
        try
        {
            using var stream = await _response!.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    Received(line["data: ".Length..]);
                }
                else if (line.StartsWith(':'))
                {
                    KeepAlives++;
                }
            }
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or HttpRequestException)
        {
            // Closed.
        }
        finally
        {
            Ended();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response?.Dispose();
        if (_reading is not null)
        {
            await _reading.WaitAsync(Patience);
        }
        _http.Dispose();
    }
}

/// <summary>A WebSocket client of <c>/v1/stream</c> (token as <c>access_token</c>, as browsers must).</summary>
public sealed class WsClient : EventClient
{
    private readonly WebSocket _socket;
    private readonly Task _reading;

    private WsClient(WebSocket socket)
    {
        _socket = socket;
        _reading = Read();
    }

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public static async Task<WsClient> Open(WebApplicationFactory<Program> factory, string token, string query = "", string path = "/v1/stream")
    {
        var ws = factory.Server.CreateWebSocketClient();
        var uri = new Uri(factory.Server.BaseAddress, path + "?" + query + "&access_token=" + Uri.EscapeDataString(token));
        uri = new UriBuilder(uri) { Scheme = "ws" }.Uri;
        var socket = await ws.ConnectAsync(uri, CancellationToken.None);
        var client = new WsClient(socket);
        await client.Opened();
        return client;
    }

    private async Task Read()
    {
        try
        {
            await WebSocketMessages.ReadAll(_socket, message => Received(Encoding.UTF8.GetString(message)));
        }
        catch (Exception error) when (error is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Closed.
        }
        finally
        {
            Ended();
        }
    }

    public async Task Close()
    {
        if (_socket.State == WebSocketState.Open)
        {
            // Our side only: the read loop receives the server's close.
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }
        await _reading.WaitAsync(Patience);
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await Close();
        }
        catch (Exception error) when (error is WebSocketException or TimeoutException or InvalidOperationException)
        {
            _socket.Abort();
        }
        _socket.Dispose();
    }
}
