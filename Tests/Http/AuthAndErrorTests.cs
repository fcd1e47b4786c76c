using System.Net;
using System.Net.Http.Headers;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class AuthAndErrorTests(GatewayFactory factory)
{
    public static TheoryData<string, string> BadTokens() => new()
    {
        { "expired", GatewayFactory.Token("ann", expires: DateTime.UtcNow.AddMinutes(-5)) },
        { "forged", GatewayFactory.Token("ann", key: "another-key-that-is-long-enough-0123456789") },
        { "malformed", "not.a.jwt" },
        { "no sub", GatewayFactory.Token(null) },
        { "bad sub", GatewayFactory.Token("has space") },
        { "bad tenant", GatewayFactory.Token("ann", tenant: "/evil") },
        { "unsigned", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbm4iLCJleHAiOjQxMDI0NDQ4MDB9." },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Bad_tokens_get_401_in_the_pnut_envelope(string why, string token)
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var message = await (await client.GetAsync("/v1/presence")).AssertError(HttpStatusCode.Unauthorized);
        Assert.False(string.IsNullOrEmpty(message), why);
    }

    public static TheoryData<string, string> EveryRoute() => new()
    {
        { "GET", "/v1/presence" },
        { "GET", "/v0/presence" },
        { "GET", "/v1/users/ann/presence" },
        { "GET", "/v0/users/ann/presence" },
        { "GET", "/v1/presence/ann" },
        { "GET", "/v0/presence/ann" },
        { "PUT", "/v1/users/me/presence" },
        { "PUT", "/v0/users/me/presence" },
        { "GET", "/v1/channels/c/presence" },
        { "GET", "/v1/users/ann/presence/channels/c" },
        { "PUT", "/v1/users/me/presence/channels/c" },
        { "PUT", "/v1/channels/c/subscribe" },
        { "DELETE", "/v1/channels/c/subscribe" },
        { "GET", "/v1/channels/c/subscribers" },
    };

    [Theory]
    [MemberData(nameof(EveryRoute))]
    public async Task Every_route_refuses_a_call_without_a_token_in_the_pnut_envelope(string method, string path)
    {
        using var client = factory.CreateClient();
        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path + "?update_presence=sneaky"));
        await response.AssertError(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [MemberData(nameof(EveryRoute))]
    public async Task Every_route_answers_an_authenticated_call_and_honours_update_presence(string method, string path)
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ann", tenant);
        var json = await (await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path + "?update_presence=roaming"))).AssertOk();
        Assert.True(json.GetProperty("meta").GetProperty("updated_presence").GetBoolean());
        var mine = await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
        Assert.Equal("roaming", mine.GetProperty("data").GetProperty("presence").GetString());
    }

    [Fact]
    public async Task A_missing_token_gets_401_saying_so()
    {
        using var client = factory.CreateClient();
        var message = await (await client.PutAsync("/v1/users/me/presence", null)).AssertError(HttpStatusCode.Unauthorized);
        Assert.Contains("Bearer", message);
    }

    [Fact]
    public async Task A_token_expired_within_the_clock_skew_is_still_accepted()
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayFactory.Token("ann", Keys.Tenant(), expires: DateTime.UtcNow.AddSeconds(-10)));
        await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
    }

    [Fact]
    public async Task Unknown_routes_and_methods_answer_in_the_pnut_envelope()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        await (await client.GetAsync("/v1/nothing-here")).AssertError(HttpStatusCode.NotFound);
        await (await client.PostAsync("/v1/users/me/presence", null)).AssertError(HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task Liveness_and_readiness_answer_without_a_token()
    {
        using var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }
}
