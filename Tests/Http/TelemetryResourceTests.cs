using OpenTelemetry.Resources;
using Presence.Hosting;

namespace Presence.Tests.Http;

/// <summary>Sets process environment variables: runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "process environment";
}

[Collection(EnvironmentCollection.Name)]
public sealed class TelemetryResourceTests
{
    [Fact]
    public void Each_process_kind_names_itself_and_the_standard_variables_override_it()
    {
        var silo = Attributes(ResourceBuilder.CreateEmpty().Describe(PresenceTelemetry.SiloService));
        Assert.Equal(PresenceTelemetry.SiloService, silo["service.name"]);
        Assert.False(string.IsNullOrEmpty(silo["service.version"]?.ToString()));
        Assert.Equal($"{Environment.MachineName}:{Environment.ProcessId}", silo["service.instance.id"]);

        Environment.SetEnvironmentVariable("OTEL_SERVICE_NAME", "presence-eu-west");
        Environment.SetEnvironmentVariable("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,service.instance.id=pod-7");
        try
        {
            var overridden = Attributes(ResourceBuilder.CreateEmpty().Describe(PresenceTelemetry.GatewayService));
            Assert.Equal("presence-eu-west", overridden["service.name"]);
            Assert.Equal("staging", overridden["deployment.environment"]);
            Assert.Equal("pod-7", overridden["service.instance.id"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable("OTEL_SERVICE_NAME", null);
            Environment.SetEnvironmentVariable("OTEL_RESOURCE_ATTRIBUTES", null);
        }
    }

    private static Dictionary<string, object> Attributes(ResourceBuilder builder) => builder.Build().Attributes.ToDictionary(a => a.Key, a => a.Value);
}
