using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Presence.Grains.Hosting;
using Presence.Grains.Index;

namespace Presence.Silo.Hosting;

/// <summary><c>Presence:Silo</c>: where the silo listens.</summary>
public sealed class PresenceSiloOptions
{
    public const string Section = "Presence:Silo";

    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;
    public string ClusterId { get; set; } = "presence";
    public string ServiceId { get; set; } = "presence";
}

public static class PresenceSiloExtensions
{
    /// <summary>
    /// The silo as this project runs it: the presence grains, in-memory grain storage and reminders, localhost
    /// clustering. Shared by the Silo program and the Gateway when it co-hosts a silo.
    /// </summary>
    public static ISiloBuilder AddPresenceSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = configuration.GetSection(PresenceSiloOptions.Section).Get<PresenceSiloOptions>() ?? new PresenceSiloOptions();
        silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
        silo.AddMemoryGrainStorage(PresenceStorage.Name);
        silo.UseInMemoryReminderService();
        silo.Services.AddPresenceGrains();
        return silo;
    }
}
