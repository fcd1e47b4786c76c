using System.Net;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

public sealed class CrossOriginGatewayFactory : GatewayFactory
{
    public const string Allowed = "https://chat.example.com";

    public CrossOriginGatewayFactory()
        : base(("Presence:Http:CorsOrigins:0", Allowed + "/"), ("Presence:Http:CorsOrigins:1", "http://localhost:3000"))
    {
    }
}

/// <summary>Browser pages of the configured origins may call every dialect: preflights before authentication, headers on errors too.</summary>
public sealed class CrossOriginTests(CrossOriginGatewayFactory factory) : IClassFixture<CrossOriginGatewayFactory>
{
    private static HttpRequestMessage Preflight(string origin, string method, string path, string headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Fact]
    public async Task A_configured_origin_is_answered_a_preflight_for_the_headers_stream_and_rocket_chat_send()
    {
        using var client = factory.CreateClient();
        var response = await client.SendAsync(Preflight(CrossOriginGatewayFactory.Allowed, "GET", "/users?api_key=k",
            "authorization,stream-auth-type,x-stream-client,x-client-request-id,content-type"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(CrossOriginGatewayFactory.Allowed, Header(response, "Access-Control-Allow-Origin"));
        var allowed = Header(response, "Access-Control-Allow-Headers")!.ToLowerInvariant();
        foreach (var header in new[] { "authorization", "stream-auth-type", "x-stream-client", "x-client-request-id", "content-type" })
        {
            Assert.Contains(header, allowed);
        }

        response = await client.SendAsync(Preflight("http://localhost:3000", "POST", "/api/v1/users.setStatus", "x-auth-token,x-user-id,content-type"));
        Assert.Equal("http://localhost:3000", Header(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Another_origin_gets_no_cors_headers_and_an_error_carries_them_for_an_allowed_one()
    {
        using var client = factory.CreateClient();
        var other = await client.SendAsync(Preflight("https://evil.example", "PUT", "/v1/users/me/presence", "authorization"));
        Assert.Null(Header(other, "Access-Control-Allow-Origin"));

        using var unauthenticated = new HttpRequestMessage(HttpMethod.Get, "/v1/presence");
        unauthenticated.Headers.Add("Origin", CrossOriginGatewayFactory.Allowed);
        var refused = await client.SendAsync(unauthenticated);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(CrossOriginGatewayFactory.Allowed, Header(refused, "Access-Control-Allow-Origin"));

        using var ann = factory.ClientFor("ann");
        using var read = new HttpRequestMessage(HttpMethod.Get, "/v1/users/me/presence");
        read.Headers.Add("Origin", CrossOriginGatewayFactory.Allowed);
        var ok = await ann.SendAsync(read);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(CrossOriginGatewayFactory.Allowed, Header(ok, "Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("https://chat.example.com", "https://chat.example.com")]
    [InlineData("https://Chat.Example.com:443/", "https://chat.example.com")]
    [InlineData("http://localhost:3000", "http://localhost:3000")]
    [InlineData("*", "*")]
    [InlineData("https://chat.example.com/app", null)]
    [InlineData("https://chat.example.com/?x=1", null)]
    [InlineData("ftp://chat.example.com", null)]
    [InlineData("https://user:pw@chat.example.com", null)]
    [InlineData("chat.example.com", null)]
    public void An_origin_is_a_scheme_a_host_and_a_port(string configured, string? origin)
        => Assert.Equal(origin, Presence.Gateway.Hosting.GatewayHttpOptions.Origin(configured));
}

/// <summary>With no origin configured (the default), nothing about CORS is added to any response.</summary>
[Collection(GatewayCollection.Name)]
public sealed class NoCrossOriginTests(GatewayFactory factory)
{
    [Fact]
    public async Task By_default_no_origin_is_allowed()
    {
        using var client = factory.CreateClient();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/users/me/presence");
        preflight.Headers.Add("Origin", "https://chat.example.com");
        preflight.Headers.Add("Access-Control-Request-Method", "PUT");
        var response = await client.SendAsync(preflight);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
