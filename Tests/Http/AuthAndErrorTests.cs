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
