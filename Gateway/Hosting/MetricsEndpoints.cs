using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using Presence.Grains.Hosting;
using Presence.Hosting;

namespace Presence.Gateway.Hosting;

/// <summary>
/// Metrics through OpenTelemetry: ASP.NET Core, the .NET runtime, Orleans' meters and this service's own
/// (<see cref="PresenceMetrics"/>), scraped by Prometheus at <c>/metrics</c>, and pushed over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is configured.
/// </summary>
public static class MetricsEndpoints
{
    /// <summary>When true, the per-call instruments below are exported too.</summary>
    public const string PerCallDetailKey = "Presence:Metrics:PerCallDetail";

    /// <summary>
    /// Instruments recorded several times on every request or grain call, each measurement a tag-set lookup on the hot
    /// path (their cost: docs/benchmarks.md). What they count is already in
    /// <c>http.server.request.duration</c> (per route and status) and <c>orleans-app-requests-latency</c>, so they are
    /// dropped unless <see cref="PerCallDetailKey"/> is set. Failures, timeouts, rejections and everything per
    /// connection, activation or silo stay.
    /// </summary>
    private static readonly HashSet<string> PerCallInstruments = new(StringComparer.Ordinal)
    {
        "aspnetcore.routing.match_attempts",
        "aspnetcore.authentication.authenticate.duration",
        "aspnetcore.authorization.attempts",
        "aspnetcore.memory_pool.rented",
        "orleans-directory-lookups-local-issued",
        "orleans-directory-lookups-local-successes",
        "orleans-directory-lookups-cache-issued",
        "orleans-directory-lookups-cache-successes",
        "orleans-messaging-sent-local",
        "orleans-messaging-sent-messages-size",
        "orleans-messaging-received-messages-size",
        "orleans-messaging-sent-header-size",
        "orleans-messaging-received-header-size",
        "orleans-messaging-processing-dispatcher-received",
        "orleans-messaging-processing-dispatcher-processed",
        "orleans-messaging-processing-ima-received",
        "orleans-messaging-processing-ima-enqueued",
    };

    public static WebApplicationBuilder AddPresenceMetrics(this WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var perCallDetail = builder.Configuration.GetValue<bool>(PerCallDetailKey);
        // Also when the gateway is only a client of the silos: the edge counts its rate-limited calls.
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<PresenceMetrics>();
        builder.Services.AddOpenTelemetry().ConfigureResource(resource => resource.Describe(PresenceTelemetry.GatewayService)).WithMetrics(metrics =>
        {
            metrics.AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Microsoft.Orleans")
                .AddMeter(PresenceMetrics.MeterName)
                .AddView(instrument => !perCallDetail && PerCallInstruments.Contains(instrument.Name) ? MetricStreamConfiguration.Drop : null)
                .AddPrometheusExporter();
            if (otlp)
            {
                metrics.AddOtlpExporter();
            }
        });
        RemoveErrorTypeLayer(builder.Services);
        return builder;
    }

    /// <summary>
    /// OpenTelemetry's ASP.NET Core instrumentation puts a middleware of its own around every request, only to tag a
    /// 5xx response with <c>error.type</c> (ASP.NET Core 10 tags only exceptions). Every error response here is made
    /// in DialectErrors, which tags them itself, so that layer (a state machine per request) is removed. It is found
    /// by name, being internal: should it be renamed, it stays, and costs only what it cost before.
    /// </summary>
    internal static void RemoveErrorTypeLayer(IServiceCollection services)
    {
        foreach (var descriptor in services.Where(d => d.ServiceType == typeof(IStartupFilter) && d.ImplementationType?.FullName == ErrorTypeLayer).ToList())
        {
            services.Remove(descriptor);
        }
    }

    internal const string ErrorTypeLayer = "OpenTelemetry.Instrumentation.AspNetCore.Implementation.HttpServerErrorTypeStartupFilter";

    public static WebApplication MapPresenceMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        return app;
    }
}
