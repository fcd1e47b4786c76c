using System.Text;
using Presence.Gateway.Realtime;
using Presence.Gateway.Realtime.Direct;

namespace Presence.Tests.Realtime;

public sealed class StreamRequestHeadTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static HeadVerdict Read(string head, out StreamRequestHead? parsed)
        => StreamRequestHead.Read(Encoding.Latin1.GetBytes(head), out parsed);

    [Fact]
    public void An_sse_request_is_read_with_its_query_and_token_and_its_length()
    {
        const string head = "GET /v1/events?users=ann,bob&channels=c HTTP/1.1\r\nHost: gw\r\nAuthorization:  Bearer abc \r\nAccept: text/event-stream\r\n\r\n";
        Assert.Equal(HeadVerdict.Stream, Read(head + "next bytes", out var parsed));
        Assert.Equal(RealtimeApi.Transport.Sse, parsed!.Transport);
        Assert.Equal("?users=ann,bob&channels=c", parsed.Query);
        Assert.Equal("Bearer abc", parsed.Authorization);
        Assert.Equal(head.Length, parsed.Length);
    }

    [Theory]
    [InlineData("GET /v1/stream HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n\r\n")]
    [InlineData("GET /V1/Stream/?access_token=t HTTP/1.1\r\nhost: gw\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: " + Key + "\r\n\r\n")]
    public void A_websocket_upgrade_is_read_in_any_case_of_names_and_route(string head)
    {
        Assert.Equal(HeadVerdict.Stream, Read(head, out var parsed));
        Assert.Equal(RealtimeApi.Transport.WebSocket, parsed!.Transport);
        Assert.Equal(Key, parsed.WebSocketKey);
    }

    [Theory]
    // Stream's SDK in Node (the ws package), and Node's own WebSocket (undici), as they send them.
    [InlineData("GET /connect?json=%7B%7D&api_key=dev&authorization=x HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: fFugaLK3iyCPDGtZEqvHfw==\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nHost: 127.0.0.1:5199\r\n\r\n")]
    [InlineData("GET /connect?json=%7B%7D&api_key=dev&authorization=x HTTP/1.1\r\nhost: 127.0.0.1:5199\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: lOQatjw7YL+zc7ggHnjjCg==\r\nsec-websocket-version: 13\r\nsec-websocket-extensions: permessage-deflate; client_max_window_bits\r\naccept: */*\r\naccept-language: *\r\nsec-fetch-mode: websocket\r\nuser-agent: node\r\npragma: no-cache\r\ncache-control: no-cache\r\naccept-encoding: gzip, deflate\r\n\r\n")]
    public void Stream_chats_connect_is_read_as_its_clients_send_it(string head)
    {
        Assert.Equal(HeadVerdict.Stream, Read(head, out var parsed));
        Assert.True(parsed!.IsStreamChat);
        Assert.Equal("?json=%7B%7D&api_key=dev&authorization=x", parsed.Query);
    }

    [Theory]
    [InlineData("G")]
    [InlineData("GET /v1/ev")]
    [InlineData("GET /v1/events?users=a HTTP/1.1\r\nHost: gw\r\n")]
    public void The_start_of_a_stream_request_waits_for_the_rest(string start)
        => Assert.Equal(HeadVerdict.Incomplete, Read(start, out _));

    [Theory]
    [InlineData("PUT /v1/users/me/presence HTTP/1.1\r\n")]
    [InlineData("GET /v1/users/me/presence HTTP/1.1\r\nHost: gw\r\n\r\n")]
    [InlineData("get /v1/events HTTP/1.1\r\nHost: gw\r\n\r\n")]
    [InlineData("GET /v1/eventsx HTTP/1.1\r\nHost: gw\r\n\r\n")]
    [InlineData("GET /v1/%65vents HTTP/1.1\r\nHost: gw\r\n\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("\u0016\u0003\u0001")] // a TLS ClientHello
    [InlineData("GET /v1/events HTTP/1.0\r\nHost: gw\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\n\r\n")] // no Host
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\r\n folded\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\r\nX-Name: caf\u00e9\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\nX-Bare: lf\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost : gw\r\n\r\n")]
    [InlineData("GET /v1/events HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n\r\n")] // an upgrade of the SSE route
    [InlineData("GET /v1/stream HTTP/1.1\r\nHost: gw\r\n\r\n")] // the WebSocket route without an upgrade
    [InlineData("GET /v1/stream HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " + Key + "\r\n\r\n")]
    [InlineData("GET /v1/stream HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n")]
    [InlineData("GET /v1/stream HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n\r\n")]
    public void Anything_but_a_plain_stream_request_is_left_to_kestrel(string head)
        => Assert.Equal(HeadVerdict.Elsewhere, Read(head, out _));

    [Fact]
    public void A_head_longer_than_the_limit_is_left_to_kestrel()
    {
        var head = "GET /v1/events?users=" + new string('a', StreamRequestHead.MaxLength) + " HTTP/1.1\r\nHost: gw\r\n\r\n";
        Assert.Equal(HeadVerdict.Elsewhere, Read(head, out _));
        Assert.Equal(HeadVerdict.Elsewhere, Read(head[..StreamRequestHead.MaxLength], out _));
    }
}
