using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>A gateway with <c>Presence:Metrics:PerCallDetail</c> on.</summary>
public sealed class PerCallMetricsGatewayFactory() : GatewayFactory(("Presence:Metrics:PerCallDetail", "true"));

public sealed class PerCallMetricsTests(PerCallMetricsGatewayFactory factory) : IClassFixture<PerCallMetricsGatewayFactory>
{
    [Fact]
    public async Task The_setting_brings_the_per_call_instruments_back()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();

        using var scraper = factory.CreateClient();
        await Poll.Until(async () =>
        {
            var text = await scraper.GetStringAsync("/metrics");
            return text.Contains("aspnetcore_routing_match_attempts") && text.Contains("orleans_directory_lookups_cache_issued");
        }, "the per-call instruments appear in a scrape");
    }
}
