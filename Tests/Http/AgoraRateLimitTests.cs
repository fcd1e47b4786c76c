using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Presence.Gateway.Agora;
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

/// <summary>The limit's windows, on a clock the test moves: counted per app and per second, dropped once an app is quiet.</summary>
public sealed class AgoraCallLimitTests
{
    [Fact]
    public void Each_app_gets_its_permits_in_each_second_and_an_app_quiet_for_ten_seconds_is_forgotten_by_a_later_call()
    {
        var clock = new FakeTimeProvider();
        var limit = new AgoraCallLimit(Options.Create(new AgoraOptions { CallsPerSecond = 3 }), clock);

        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => limit.TryAcquire("a")));
        Assert.True(limit.TryAcquire("b")); // one app never limits another
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(limit.TryAcquire("a")); // still the same second
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => limit.TryAcquire("a")));
        Assert.Equal(2, limit.Apps);

        clock.Advance(TimeSpan.FromSeconds(11)); // both quiet past ten seconds: the next call, of a third app, drops them
        Assert.True(limit.TryAcquire("c"));
        Assert.Equal(1, limit.Apps);
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => limit.TryAcquire("a"))); // a forgotten app starts afresh
    }
}
