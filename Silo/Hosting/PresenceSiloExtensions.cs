using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
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
        silo.AddPresenceMemoryStorage();
        silo.UseInMemoryReminderService();
        silo.Services.AddPresenceGrains();
        return silo;
    }

    /// <summary>In-memory grain storage for the presence grains, with the Orleans binary serializer.</summary>
    public static ISiloBuilder AddPresenceMemoryStorage(this ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage(PresenceStorage.Name);
        silo.Services.UseOrleansStorageSerializer<MemoryGrainStorageOptions>(PresenceStorage.Name);
        return silo;
    }

    /// <summary>
    /// Stores state with the Orleans serializer (compact, version tolerant through [Id]) instead of the default
    /// Newtonsoft JSON, whose reference tracking cannot read back two equal records stored as separate objects.
    /// </summary>
    public static IServiceCollection UseOrleansStorageSerializer<TOptions>(this IServiceCollection services, string name)
        where TOptions : class, IStorageProviderSerializerOptions
    {
        services.AddOptions<TOptions>(name).Configure<IServiceProvider>((options, provider)
            => options.GrainStorageSerializer = new OrleansGrainStorageSerializer(provider.GetRequiredService<Serializer>()));
        return services;
    }
}
