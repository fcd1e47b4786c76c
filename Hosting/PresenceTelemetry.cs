using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Presence.Grains.Hosting;

namespace Presence.Hosting;

/// <summary>
/// What every process tells OpenTelemetry about itself: the service name of its kind (<c>orleans-presence-gateway</c>
/// or <c>orleans-presence-silo</c>), the build's version, and an instance id (host and process), so an operator tells
/// gateways from silos and one process from another. The standard <c>OTEL_SERVICE_NAME</c> and
/// <c>OTEL_RESOURCE_ATTRIBUTES</c> override them.
/// </summary>
public static class PresenceTelemetry
{
    public const string GatewayService = "orleans-presence-gateway";
    public const string SiloService = "orleans-presence-silo";

    /// <summary>The resource of a process of <paramref name="serviceName"/>'s kind.</summary>
    public static ResourceBuilder Describe(this ResourceBuilder resource, string serviceName) => resource
        .AddService(serviceName, serviceVersion: Version, serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}")
        // Last, so what the environment says wins over the defaults above.
        .AddEnvironmentVariableDetector();

    /// <summary>
    /// A silo's own metrics (Orleans, the runtime, this service's meter), pushed over OTLP when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is configured: a silo serves no HTTP for Prometheus to scrape. A gateway that
    /// co-hosts its silo exports them through its own pipeline instead.
    /// </summary>
    public static IServiceCollection AddPresenceSiloTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return services;
        }
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.Describe(SiloService))
            .WithMetrics(metrics => metrics
                .AddRuntimeInstrumentation()
                .AddMeter("Microsoft.Orleans")
                .AddMeter(PresenceMetrics.MeterName)
                .AddOtlpExporter());
        return services;
    }

    private static readonly string Version = typeof(PresenceTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PresenceTelemetry).Assembly.GetName().Version?.ToString() ?? "unknown";
}
