using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Presence.Gateway.Realtime.Direct;
using Presence.Tests.Support;

namespace Presence.Tests.Realtime;

/// <summary>The real gateway on Kestrel and real sockets: streams served on their own sockets (<see cref="DirectStreams"/>).</summary>
public sealed class DirectStreamGatewayFactory : GatewayFactory
{
    public DirectStreamGatewayFactory()
        : base(("Presence:Realtime:DisconnectGrace", "00:00:00"), ("Presence:Realtime:MaxConnectionsPerUser", "2"),
            ("Presence:Http:CorsOrigins:0", CrossOrigin))
        => UseKestrel(0);

    public const string CrossOrigin = "https://chat.example.com";

    public Uri Address
    {
        get
        {
            StartServer();
            return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        }
    }

    public long Served => Services.GetRequiredService<DirectStreams>().Served;
}

[CollectionDefinition(Name)]
public sealed class DirectStreamCollection : ICollectionFixture<DirectStreamGatewayFactory>
{
    public const string Name = "direct streams";
}

[Collection(DirectStreamCollection.Name)]
public sealed class DirectStreamTests(DirectStreamGatewayFactory factory)
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    [Fact]
    public void Kestrels_connection_options_are_made_from_its_transport_settings()
    {
        var transport = new SocketTransportOptions
        {
            IOQueueCount = 3, WaitForDataBeforeAllocatingBuffer = false, MaxReadBufferSize = 4321, MaxWriteBufferSize = 12345,
            UnsafePreferInlineScheduling = true,
        };
        var options = KestrelSocketConnections.Options(transport);
        Assert.Equal(3, options.IOQueueCount);
        Assert.False(options.WaitForDataBeforeAllocatingBuffer);
        Assert.Equal(4321, options.MaxReadBufferSize);
        Assert.Equal(12345, options.MaxWriteBufferSize);
        Assert.True(options.UnsafePreferInlineScheduling);
    }

    private async Task Put(string tenant, string user, string status)
    {
        using var client = factory.ClientFor(user, tenant);
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", status)))).AssertOk();
    }

    private async Task<bool> Online(string tenant, string user)
    {
        using var client = factory.ClientFor("reader", tenant);
        return (await (await client.GetAsync($"/v1/users/{user}/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString() != "offline";
    }

    [DirectStreamFact]
    public async Task An_sse_stream_opened_by_a_connections_first_request_is_served_on_its_own_socket_with_the_same_events()
    {
        var tenant = Keys.Tenant();
        var served = factory.Served;
        await using var raw = await RawConnection.Open(factory.Address,
            $"GET /v1/events?users=ann HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {GatewayFactory.Token("w", tenant)}\r\n\r\n");

        var head = await raw.ReadHead();
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head);
        Assert.Contains("Content-Type: text/event-stream\r\n", head);
        Assert.Contains("Cache-Control: no-cache\r\n", head);
        Assert.Contains("Connection: close\r\n", head); // the body is the rest of the connection: no chunks
        var hello = await raw.ReadSseEvent();
        Assert.Equal("health.check", hello.GetProperty("type").GetString());
        Assert.Equal(served + 1, factory.Served);
        Assert.True(await Online(tenant, "w"));

        await Put(tenant, "ann", "away");
        var changed = await raw.ReadSseEvent();
        Assert.Equal("user.presence.changed", changed.GetProperty("type").GetString());
        Assert.Equal("away", changed.GetProperty("user").GetProperty("status").GetString());

        // The client leaves: its hold ends (no grace period here).
        raw.Close();
        await Poll.Until(async () => !await Online(tenant, "w"), "the gateway noticed the closed socket and took w offline", EventClient.Patience);
    }

    [DirectStreamFact]
    public async Task A_websocket_client_gets_its_events_and_a_clean_close_handshake()
    {
        var tenant = Keys.Tenant();
        var served = factory.Served;
        using var socket = new ClientWebSocket();
        var uri = new UriBuilder(factory.Address) { Scheme = "ws", Path = "/v1/stream", Query = "users=ann&access_token=" + GatewayFactory.Token("w", tenant) }.Uri;
        await socket.ConnectAsync(uri, CancellationToken.None);
        Assert.Equal("health.check", (await Receive(socket)).GetProperty("type").GetString());
        Assert.Equal(served + 1, factory.Served);

        await Put(tenant, "ann", "busy");
        Assert.Equal("busy", (await Receive(socket)).GetProperty("user").GetProperty("status").GetString());

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", patience.Token); // returns once the server answered
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        await Poll.Until(async () => !await Online(tenant, "w"), "the gateway noticed the closed socket and took w offline", EventClient.Patience);
    }

    [DirectStreamFact]
    public async Task A_websocket_ping_is_answered_and_a_client_breaking_the_protocol_is_closed_with_1002()
    {
        var tenant = Keys.Tenant();
        await using var raw = await RawConnection.Open(factory.Address,
            $"GET /v1/stream?access_token={GatewayFactory.Token("w", tenant)} HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Key}\r\n\r\n");
        var head = await raw.ReadHead();
        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", head);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", head);
        var (opcode, hello) = await raw.ReadFrame();
        Assert.Equal(WebSocketFrames.TextOpcode, opcode);
        Assert.Contains("health.check", Encoding.UTF8.GetString(hello));

        var ping = WebSocketFrameReaderTests.ClientFrame(WebSocketFrames.PingOpcode, "are you there"u8.ToArray());
        await raw.Send(ping[..4]);
        await raw.Send(ping[4..]);
        var (pongCode, pong) = await raw.ReadFrame();
        Assert.Equal(WebSocketFrames.PongOpcode, pongCode);
        Assert.Equal("are you there", Encoding.UTF8.GetString(pong));

        await raw.Send(WebSocketFrameReaderTests.ClientFrame(WebSocketFrames.TextOpcode, [1], masked: false));
        var (closeCode, close) = await raw.ReadFrame();
        Assert.Equal(WebSocketFrames.CloseOpcode, closeCode);
        Assert.Equal([0x03, 0xEA], close); // 1002
        Assert.True(await raw.Ended());
    }

    [DirectStreamFact]
    public async Task What_cannot_be_served_on_its_own_socket_is_answered_by_kestrel_in_the_stream_dialect()
    {
        var tenant = Keys.Tenant();
        var token = GatewayFactory.Token("crowd", tenant);
        var served = factory.Served;

        await using var badToken = await RawConnection.Open(factory.Address, "GET /v1/events HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer nonsense\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 401 ", await badToken.ReadHead());
        Assert.Equal("invalid token", (await badToken.ReadBody()).GetProperty("message").GetString());

        await using var badQuery = await RawConnection.Open(factory.Address, $"GET /v1/events?users=%25%25 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 ", await badQuery.ReadHead());
        Assert.Contains("not a valid user id", (await badQuery.ReadBody()).GetProperty("message").GetString());

        // Two streams of one user are allowed here; the third is refused.
        await using var first = await RawConnection.Open(factory.Address, $"GET /v1/events HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n\r\n");
        await using var second = await RawConnection.Open(factory.Address, $"GET /v1/events HTTP/1.1\r\nHost: gw\r\nX-Auth-Token: {token}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", await first.ReadHead());
        Assert.StartsWith("HTTP/1.1 200 ", await second.ReadHead());
        await using var third = await RawConnection.Open(factory.Address, $"GET /v1/events HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 ", await third.ReadHead());
        Assert.Contains("at most 2 open streams", (await third.ReadBody()).GetProperty("message").GetString());

        Assert.Equal(served + 2, factory.Served);
    }

    [DirectStreamFact]
    public async Task A_browsers_cross_origin_event_stream_is_kestrels_so_cors_answers_it()
    {
        var token = GatewayFactory.Token("browser", Keys.Tenant());
        var served = factory.Served;
        await using var raw = await RawConnection.Open(factory.Address,
            $"GET /v1/events HTTP/1.1\r\nHost: gw\r\nOrigin: {DirectStreamGatewayFactory.CrossOrigin}\r\nAuthorization: Bearer {token}\r\n\r\n");
        var head = await raw.ReadHead();
        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Contains($"Access-Control-Allow-Origin: {DirectStreamGatewayFactory.CrossOrigin}", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(served, factory.Served);
    }

    [DirectStreamFact]
    public async Task A_stream_asked_for_after_other_requests_on_a_keep_alive_connection_is_served_by_kestrel()
    {
        var tenant = Keys.Tenant();
        var token = GatewayFactory.Token("later", tenant);
        var served = factory.Served;
        await using var raw = await RawConnection.Open(factory.Address, $"GET /v1/users/me/presence HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", await raw.ReadHead());
        await raw.ReadBody();

        await raw.Send(Encoding.ASCII.GetBytes($"GET /v1/events HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n\r\n"));
        var head = await raw.ReadHead();
        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Contains("Transfer-Encoding: chunked", head);
        Assert.Equal(served, factory.Served);
    }

    [DirectStreamFact]
    public async Task Kestrel_answers_the_connections_it_is_handed_with_bodies_small_and_many_blocks_long()
    {
        // A body written before the headers is rented from the connection's memory pool: this listener's connections
        // must offer Kestrel a pool that answers any size, as Kestrel's own transport does.
        using var client = new HttpClient { BaseAddress = factory.Address };
        client.DefaultRequestHeaders.Authorization = new("Bearer", GatewayFactory.Token("sized", Keys.Tenant()));
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "writing")))).AssertOk();
        var read = await (await client.GetAsync("/v1/users/sized/presence")).AssertOk();
        Assert.Equal("writing", read.GetProperty("data").GetProperty("presence").GetString());
        var document = await client.GetStringAsync("/openapi/v1.json");
        Assert.True(document.Length > 64 * 1024, $"the OpenAPI document is {document.Length} characters");
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(document).RootElement.ValueKind);
    }

    private static async Task<JsonElement> Receive(ClientWebSocket socket)
    {
        var buffer = new byte[16 * 1024];
        using var patience = new CancellationTokenSource(EventClient.Patience);
        var received = await socket.ReceiveAsync(buffer, patience.Token);
        Assert.True(received.EndOfMessage);
        return JsonDocument.Parse(buffer.AsMemory(0, received.Count)).RootElement.Clone();
    }
}
