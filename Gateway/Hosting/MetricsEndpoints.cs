using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using Presence.Grains.Hosting;

namespace Presence.Gateway.Hosting;

/// <summary>
/// Metrics through OpenTelemetry: ASP.NET Core, the .NET runtime, Orleans' meters and this service's own
/// (<see cref="PresenceMetrics"/>), scraped by Prometheus at <c>/metrics</c>, and pushed over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is configured.
/// </summary>
public static class MetricsEndpoints
{
    public static WebApplicationBuilder AddPresenceMetrics(this WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        // Also when the gateway is only a client of the silos: the edge counts its rate-limited calls.
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<PresenceMetrics>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Microsoft.Orleans")
                .AddMeter(PresenceMetrics.MeterName)
                .AddPrometheusExporter();
            if (otlp)
            {
                metrics.AddOtlpExporter();
            }
        });
        return builder;
    }

    public static WebApplication MapPresenceMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        return app;
    }
}
