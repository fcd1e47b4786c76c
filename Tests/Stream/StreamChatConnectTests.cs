using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Presence.Gateway.Realtime.Direct;
using Presence.Tests.Realtime;
using Presence.Tests.Support;

namespace Presence.Tests.Stream;

/// <summary>
/// <c>/connect</c> as Stream's SDK opens it (wire specification, section 1): the first frame, the heartbeat, refusals
/// the SDK understands, close codes, and hostile input that never breaks a connection or the gateway.
/// </summary>
[Collection(StreamChatCollection.Name)]
public sealed class StreamChatConnectTests(StreamChatGatewayFactory factory)
{
    private static string Id(string name) => name + Guid.NewGuid().ToString("N")[..8];

    private long Served => factory.Services.GetRequiredService<DirectStreams>().Served;

    [Fact]
    public async Task The_first_frame_is_health_check_with_the_connection_id_and_the_whole_own_user_and_every_ping_is_answered()
    {
        var served = Served;
        var user = Id("ann");
        var (socket, first) = await StreamSocket.Connect(factory.Address, user, ""","name":"Ann","image":"https://img.example/ann.png" """);
        await using var connected = socket;
        Assert.Equal("health.check", first.GetProperty("type").GetString());
        var connectionId = first.GetProperty("connection_id").GetString();
        Assert.False(string.IsNullOrEmpty(connectionId));
        Assert.Equal("*", first.GetProperty("cid").GetString());
        var me = first.GetProperty("me");
        Assert.Equal(user, me.GetProperty("id").GetString());
        Assert.Equal("Ann", me.GetProperty("name").GetString());
        Assert.Equal("https://img.example/ann.png", me.GetProperty("image").GetString());
        Assert.True(me.GetProperty("online").GetBoolean());
        Assert.False(me.GetProperty("invisible").GetBoolean());
        Assert.True(me.TryGetProperty("last_active", out _));
        foreach (var array in new[] { "mutes", "channel_mutes", "devices", "blocked_user_ids", "teams" })
        {
            Assert.Equal(JsonValueKind.Array, me.GetProperty(array).ValueKind);
        }
        Assert.Equal(served + 1, Served); // a socket of its own, as /v1/stream's

        await socket.Ping(user);
        var pong = await socket.Next();
        Assert.Equal("health.check", pong.GetProperty("type").GetString());
        Assert.Equal(connectionId, pong.GetProperty("connection_id").GetString());
        Assert.False(pong.TryGetProperty("me", out _));
        Assert.False(pong.TryGetProperty("code", out _)); // the SDK reads a top-level code as a close event

        // A second socket gets a connection id of its own.
        var (second, secondFirst) = await StreamSocket.Connect(factory.Address, user);
        await using var __ = second;
        Assert.NotEqual(connectionId, secondFirst.GetProperty("connection_id").GetString());
    }

    [Theory]
    [InlineData("ws")] // the SDK's own socket in Node (the ws package)
    [InlineData("undici")] // Node's WebSocket, and browsers' alike
    [InlineData("raw")] // a query written by hand: the token's '=' not escaped
    public async Task Sockets_as_nodes_clients_open_them_are_served_on_their_own_sockets(string client)
    {
        var served = Served;
        var user = Id("node");
        var query = client == "raw"
            ? "json=" + Uri.EscapeDataString(StreamSocket.Details(user)) + "&api_key=" + StreamChatGatewayFactory.Key + "&authorization=" + StreamChatClient.DevToken(user)
            : StreamSocket.Query(StreamChatClient.DevToken(user), StreamSocket.Details(user));
        var host = factory.Address.Authority;
        var head = client == "ws"
            ? $"GET /connect?{query} HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: fFugaLK3iyCPDGtZEqvHfw==\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nHost: {host}\r\n\r\n"
            : $"GET /connect?{query} HTTP/1.1\r\nhost: {host}\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: lOQatjw7YL+zc7ggHnjjCg==\r\nsec-websocket-version: 13\r\nsec-websocket-extensions: permessage-deflate; client_max_window_bits\r\naccept: */*\r\naccept-language: *\r\nsec-fetch-mode: websocket\r\nuser-agent: node\r\npragma: no-cache\r\ncache-control: no-cache\r\naccept-encoding: gzip, deflate\r\n\r\n";
        await using var raw = await RawConnection.Open(factory.Address, head);
        Assert.StartsWith("HTTP/1.1 101 ", await raw.ReadHead());
        var (opcode, payload) = await raw.ReadFrame();
        Assert.Contains("\"health.check\"", Encoding.UTF8.GetString(payload));
        Assert.Equal(served + 1, Served);
    }

    public static TheoryData<string, string, int, int> Refusals => new()
    {
        // what is wrong, the query, Stream's code, the status in the frame
        { "an expired token", StreamSocket.Query(StreamChatClient.Sign("""{"user_id":"eve","exp":1000}"""), StreamSocket.Details("eve")), 40, 401 },
        { "another app's secret", StreamSocket.Query(StreamChatClient.UserToken("eve", StreamChatGatewayFactory.Secret + "-other"), StreamSocket.Details("eve")), 43, 401 },
        { "an unknown api key", StreamSocket.Query(StreamChatClient.UserToken("eve"), StreamSocket.Details("eve"), apiKey: "nokey"), 2, 401 },
        { "no token", StreamSocket.Query("undefined", StreamSocket.Details("eve")), 5, 401 },
        { "a server token", StreamSocket.Query(StreamChatClient.ServerToken(), StreamSocket.Details("eve")), 5, 401 },
        { "json of another user", StreamSocket.Query(StreamChatClient.UserToken("eve"), StreamSocket.Details("mallory")), 5, 401 },
        { "json that is not JSON", StreamSocket.Query(StreamChatClient.UserToken("eve"), "{\"user_id\":"), 4, 400 },
        { "json too large", StreamSocket.Query(StreamChatClient.UserToken("eve"), StreamSocket.Details("eve", ",\"bio\":\"" + new string('x', 5000) + "\"")), 4, 400 },
        { "a name that is not text", StreamSocket.Query(StreamChatClient.UserToken("eve"), StreamSocket.Details("eve", ",\"name\":42")), 4, 400 },
        { "no json", "api_key=" + StreamChatGatewayFactory.Key + "&authorization=" + StreamChatClient.UserToken("eve"), 4, 400 },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_socket_gets_one_error_frame_the_sdk_understands_then_a_normal_close(string why, string query, int code, int status)
    {
        await using var socket = await StreamSocket.Open(factory.Address, query);
        var frame = await socket.Next();
        var error = frame.GetProperty("error");
        Assert.True(code == error.GetProperty("code").GetInt32(), why);
        Assert.Equal(status, error.GetProperty("StatusCode").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        await socket.Closed.WaitAsync(StreamSocket.Patience);
        // 1000 before the first real frame: the SDK rejects connectUser and does not retry.
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
    }

    [Fact]
    public async Task A_socket_past_the_users_limit_on_a_gateway_is_refused_in_the_socket_not_by_the_upgrade()
    {
        var user = Id("many");
        var open = new List<StreamSocket>();
        try
        {
            for (var i = 0; i < 20; i++) // Presence:Realtime:MaxConnectionsPerUser
            {
                open.Add((await StreamSocket.Connect(factory.Address, user)).Socket);
            }
            await using var refused = await StreamSocket.Open(factory.Address, StreamSocket.Query(StreamChatClient.UserToken(user), StreamSocket.Details(user)));
            var error = (await refused.Next()).GetProperty("error");
            Assert.Equal(9, error.GetProperty("code").GetInt32());
            Assert.Equal(429, error.GetProperty("StatusCode").GetInt32());
            await refused.Closed.WaitAsync(StreamSocket.Patience);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, refused.CloseStatus);
        }
        finally
        {
            foreach (var socket in open)
            {
                await socket.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_plain_get_of_connect_is_refused_in_streams_error_format()
    {
        using var client = new HttpClient { BaseAddress = factory.Address };
        var (status, body) = await StreamChatClient.Read(await client.GetAsync("/connect?api_key=" + StreamChatGatewayFactory.Key));
        Assert.Equal(400, status);
        Assert.Equal(4, body.GetProperty("code").GetInt32());
        Assert.Equal(400, body.GetProperty("StatusCode").GetInt32());
        Assert.True(body.TryGetProperty("duration", out _) && body.TryGetProperty("more_info", out _));
    }

    [Fact]
    public async Task Messages_that_are_not_pings_are_ignored_and_the_connection_lives_on()
    {
        var user = Id("bea");
        var (socket, _) = await StreamSocket.Connect(factory.Address, user);
        await using var __ = socket;
        await socket.Send("not json at all");
        await socket.Send("""{"type":"message.new","text":"hi"}""");
        await socket.Send("[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]");
        await socket.Send("""[{"\udc00":1,"type":"health.check"}]"""); // a lone surrogate escaped in a name
        await socket.Send(Encoding.UTF8.GetBytes("""[{"type":"health.check"}]"""), WebSocketMessageType.Binary);
        await socket.Send("");
        await socket.Ping(user);
        var pong = await socket.Next();
        Assert.Equal("health.check", pong.GetProperty("type").GetString()); // the first frame since: nothing else was answered
        Assert.True(await Online(user)); // and the socket still holds its user
    }

    [Fact]
    public async Task A_message_longer_than_any_the_sdk_sends_closes_the_socket_with_1009_and_the_user_goes_offline_after_the_grace()
    {
        var user = Id("cid");
        var (socket, _) = await StreamSocket.Connect(factory.Address, user);
        await using var __ = socket;
        await socket.Send(new string('x', 5000));
        await socket.Closed.WaitAsync(StreamSocket.Patience);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
        await Poll.Until(async () => !await Online(user), "the user offline after the grace", TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Frames_after_a_close_are_never_answered_and_the_gateway_serves_the_next_socket()
    {
        var user = Id("dee");
        var query = StreamSocket.Query(StreamChatClient.UserToken(user), StreamSocket.Details(user));
        await using (var raw = await RawConnection.Open(factory.Address,
            $"GET /connect?{query} HTTP/1.1\r\nHost: {factory.Address.Authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
        {
            Assert.StartsWith("HTTP/1.1 101 ", await raw.ReadHead());
            var (opcode, payload) = await raw.ReadFrame();
            Assert.Equal(WebSocketFrames.TextOpcode, opcode);
            Assert.Contains("\"health.check\"", Encoding.UTF8.GetString(payload));
            await raw.Send(WebSocketFrameReaderTests.ClientFrame(WebSocketFrames.CloseOpcode, [0x03, 0xE8]));
            await raw.Send(WebSocketFrameReaderTests.ClientFrame(WebSocketFrames.TextOpcode, Encoding.UTF8.GetBytes("""[{"type":"health.check"}]""")));
            var (closing, code) = await raw.ReadFrame();
            Assert.Equal(WebSocketFrames.CloseOpcode, closing);
            Assert.Equal(new byte[] { 0x03, 0xE8 }, code);
            Assert.True(await raw.Ended()); // no answer to the ping sent after the close
        }
        var (next, first) = await StreamSocket.Connect(factory.Address, user);
        await using var _ = next;
        Assert.Equal("health.check", first.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_user_connecting_invisible_is_offline_to_everyone_and_sees_itself_invisible()
    {
        var user = Id("ivy");
        var (socket, first) = await StreamSocket.Connect(factory.Address, user, ""","invisible":true""");
        await using var _ = socket;
        Assert.True(first.GetProperty("me").GetProperty("invisible").GetBoolean());
        Assert.False(await Online(user));
        using var pnut = factory.ClientFor("observer");
        var seen = JsonDocument.Parse(await pnut.GetStringAsync($"/v1/users/{user}/presence")).RootElement.GetProperty("data");
        Assert.Equal("offline", seen.GetProperty("presence").GetString());
    }

    /// <summary>Whether the user is online as another user sees it through pnut.</summary>
    private async Task<bool> Online(string user)
    {
        using var pnut = factory.ClientFor("observer");
        var seen = JsonDocument.Parse(await pnut.GetStringAsync($"/v1/users/{user}/presence")).RootElement.GetProperty("data");
        return seen.GetProperty("presence").GetString() != "offline";
    }
}

/// <summary>The same gateway with direct streams off: <c>/connect</c> served by Kestrel's WebSockets, with the same frames.</summary>
public sealed class StreamChatKestrelGatewayFactory : GatewayFactory
{
    public StreamChatKestrelGatewayFactory()
        : base(("Presence:Stream:Apps:" + StreamChatGatewayFactory.Key + ":Secret", StreamChatGatewayFactory.Secret),
            ("Presence:Realtime:DirectStreams", "false"))
    {
        RealClock = true;
        UseKestrel(0);
    }

    public Uri Address
    {
        get
        {
            StartServer();
            return new Uri(Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());
        }
    }
}

public sealed class StreamChatKestrelTests(StreamChatKestrelGatewayFactory factory) : IClassFixture<StreamChatKestrelGatewayFactory>
{
    [Fact]
    public async Task Through_kestrel_the_first_frame_pings_and_long_messages_are_handled_the_same_way()
    {
        var (socket, first) = await StreamSocket.Connect(factory.Address, "kim");
        await using var _ = socket;
        Assert.Equal("health.check", first.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Array, first.GetProperty("me").GetProperty("channel_mutes").ValueKind);
        await socket.Send("not json");
        await socket.Ping("kim");
        Assert.Equal(first.GetProperty("connection_id").GetString(), (await socket.Next()).GetProperty("connection_id").GetString());
        await socket.Send(new string('x', 5000));
        await socket.Closed.WaitAsync(StreamSocket.Patience);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
    }
}
