using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class MetricsTests(GatewayFactory factory)
{
    [Fact]
    public void OpenTelemetrys_per_request_error_type_layer_is_removed_by_its_real_name()
    {
        // The name it is found by names a real type of the instrumentation package (else the removal does nothing)...
        Assert.NotNull(typeof(OpenTelemetry.Instrumentation.AspNetCore.AspNetCoreTraceInstrumentationOptions).Assembly.GetType(Presence.Gateway.Hosting.MetricsEndpoints.ErrorTypeLayer));
        // ...and no such startup filter is left to wrap the pipeline.
        Assert.DoesNotContain(factory.Services.GetServices<Microsoft.AspNetCore.Hosting.IStartupFilter>(),
            filter => filter.GetType().FullName == Presence.Gateway.Hosting.MetricsEndpoints.ErrorTypeLayer);
    }

    [Fact]
    public async Task Prometheus_scrapes_the_services_own_meters_with_orleans_and_aspnetcore()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ann", tenant);
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();

        using var scraper = factory.CreateClient();
        string text = "";
        // The exporter caches a scrape briefly; the update is counted by the next fresh one.
        await Poll.Until(async () =>
        {
            var response = await scraper.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            text = await response.Content.ReadAsStringAsync();
            return text.Contains("presence_updates_total") && text.Contains($"tenant=\"{tenant}\"");
        }, "the update and the tenant's online gauge appear in a scrape");
        Assert.Contains("presence_online_users", text);
        // Which process this is: a gateway, its version, its instance (not "unknown_service:Gateway").
        var target = text.Split('\n').Single(l => l.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Contains($"service_name=\"{Presence.Hosting.PresenceTelemetry.GatewayService}\"", target);
        Assert.Contains($"service_instance_id=\"{Environment.MachineName}:{Environment.ProcessId}\"", target);
        Assert.Contains("service_version=\"", target);
        Assert.Contains("http_server_request_duration", text);
        Assert.Contains("orleans_app_requests_latency", text);
        // Per-call instruments are off unless Presence:Metrics:PerCallDetail is set (a cost on every request).
        Assert.DoesNotContain("orleans_directory_lookups_cache_issued", text);
        Assert.DoesNotContain("aspnetcore_routing_match_attempts", text);
    }
}
