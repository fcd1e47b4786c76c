using System.Net;
using System.Text;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>A gateway whose Agora routes allow 5 calls per second per app.</summary>
public sealed class RateLimitedGatewayFactory() : GatewayFactory(("Presence:Agora:CallsPerSecond", "5"));

public sealed class AgoraRateLimitTests(RateLimitedGatewayFactory factory) : IClassFixture<RateLimitedGatewayFactory>
{
    [Fact]
    public async Task Past_the_per_app_limit_calls_get_429_in_agoras_format_and_other_apps_and_dialects_are_unaffected()
    {
        var (busy, quiet) = ($"o{Guid.NewGuid():N}"[..12] + "/a", $"o{Guid.NewGuid():N}"[..12] + "/a");
        using var client = factory.ClientFor("c1", busy);
        // 20 calls at once: far more than 5 can fit in any one-second window, however the windows fall.
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            client.PostAsync($"/{busy}/users/c1/presence", new StringContent("""{"usernames":["c1"]}""", Encoding.UTF8, "application/json"))));
        var codes = responses.Select(r => r.StatusCode).ToList();
        foreach (var rejected in responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests))
        {
            Assert.Contains("\"error_description\"", await rejected.Content.ReadAsStringAsync());
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, codes);
        Assert.True(codes.Count(c => c == HttpStatusCode.OK) >= 5);

        using var other = factory.ClientFor("c1", quiet);
        Assert.Equal(HttpStatusCode.OK, (await other.PostAsync($"/{quiet}/users/c1/presence", new StringContent("""{"usernames":["c1"]}""", Encoding.UTF8, "application/json"))).StatusCode);
        await (await client.GetAsync("/v1/users/me/presence")).AssertOk(); // pnut is not limited
    }
}
