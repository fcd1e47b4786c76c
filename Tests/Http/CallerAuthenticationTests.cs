using System.Globalization;
using System.Net;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>A gateway that exports the per-call instruments, which count each run of the framework's auth steps.</summary>
public sealed class PerCallMetricsGatewayFactory() : GatewayFactory(("Presence:Metrics:PerCallDetail", "true"));

public sealed class CallerAuthenticationTests(PerCallMetricsGatewayFactory factory) : IClassFixture<PerCallMetricsGatewayFactory>
{
    [Fact]
    public async Task A_token_is_validated_by_the_framework_once_and_later_calls_take_the_fast_path()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("quick", tenant);
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();
        for (var i = 0; i < 4; i++)
        {
            await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
        }

        using var scraper = factory.CreateClient();
        string text = "";
        await ClusterFixture.Eventually(async () =>
        {
            text = await scraper.GetStringAsync("/metrics");
            return Sum(text, "http_server_request_duration_seconds_count{", "http_request_method=\"GET\"", "http_route=\"/v1/users/{user_id}/presence\"") >= 4;
        }, "a scrape that counts all five calls");
        // Five calls: the first had its token validated; the framework's middlewares were not also added in front.
        Assert.Equal(1, Sum(text, "aspnetcore_authentication_authenticate_duration_seconds_count{", "aspnetcore_authentication_result=\"success\""));
        Assert.Equal(0, Sum(text, "aspnetcore_authorization_attempts_total{", "aspnetcore_user_is_authenticated=\"true\""));
    }

    private static double Sum(string scrape, string metric, params string[] labels) => scrape.Split('\n')
        .Where(line => line.StartsWith(metric, StringComparison.Ordinal) && labels.All(label => line.Contains(label, StringComparison.Ordinal)))
        .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
