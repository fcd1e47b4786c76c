using Orleans.Configuration;

namespace Presence.Silo.Hosting;

public static class PresenceClientExtensions
{
    /// <summary>An Orleans client of a PostgreSQL-clustered set of silos: it finds their gateways in the membership table.</summary>
    public static IClientBuilder AddPresenceClient(this IClientBuilder client, PresenceClusterOptions options)
    {
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = PresenceClusterOptions.ResponseTimeout);
        client.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (PresenceClusterOptions.Invariant, options.ConnectionString));
        return client;
    }
}
