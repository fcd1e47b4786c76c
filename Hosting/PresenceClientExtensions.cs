using Orleans.Dashboard;
using Orleans.Configuration;

namespace Presence.Hosting;

public static class PresenceClientExtensions
{
    /// <summary>An Orleans client of a PostgreSQL-clustered set of silos: it finds their gateways in the membership table.</summary>
    public static IClientBuilder AddPresenceClient(this IClientBuilder client, PresenceClusterOptions options)
    {
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = PresenceClusterOptions.ResponseTimeout);
        client.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (PresenceClusterOptions.Invariant, options.ConnectionString));
        // A gateway may start before any silo (or PostgreSQL) is up: it keeps trying to connect instead of exiting,
        // and starts answering HTTP once it has reached the cluster.
        client.UseConnectionRetryFilter(async (_, cancellationToken) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            return true;
        });
        if (options.DashboardEnabled)
        {
            client.AddDashboard();
        }
        return client;
    }
}
