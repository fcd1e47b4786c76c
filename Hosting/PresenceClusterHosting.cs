using Microsoft.Extensions.Hosting;
using Presence.Grains.Hosting;

namespace Presence.Hosting;

public static class PresenceClusterHosting
{
    /// <summary>
    /// An edge's way into the cluster, and what it calls the grains through (<see cref="Client.IPresenceGrains"/>): by
    /// default a silo in this process (in-memory storage and reminders, localhost clustering); when PostgreSQL is
    /// configured, an Orleans client of the silos registered there.
    /// </summary>
    public static IHostApplicationBuilder AddPresenceCluster(this IHostApplicationBuilder builder)
    {
        var cluster = PresenceClusterOptions.From(builder.Configuration);
        if (cluster.UsesPostgres)
        {
            builder.UseOrleansClient(client => client.AddPresenceClient(cluster));
        }
        else
        {
            builder.UseOrleans(silo => silo.AddPresenceSilo(builder.Configuration));
        }
        builder.Services.AddPresenceGrainsClient();
        return builder;
    }
}
