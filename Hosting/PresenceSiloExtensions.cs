using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Storage;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Hosting.Storage;

namespace Presence.Hosting;

public static class PresenceSiloExtensions
{
    /// <summary>
    /// The silo as this project runs it, shared by the Silo program and the Gateway when it co-hosts a silo: the
    /// presence grains, plus either in-memory storage and reminders on localhost clustering (the default), or
    /// PostgreSQL clustering, storage and reminders (<c>Presence:Storage:Provider=postgres</c>, or whenever
    /// <c>ConnectionStrings:presence</c> is set).
    /// </summary>
    public static ISiloBuilder AddPresenceSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = PresenceClusterOptions.From(configuration);
        silo.Services.AddPresenceGrains();
        silo.Configure<SiloMessagingOptions>(o =>
        {
            o.ResponseTimeout = PresenceClusterOptions.ResponseTimeout;
            // No scan of every activation's running and queued requests every 5 seconds: it tells a caller of a request
            // running or queued for over 20 seconds (RequestProcessingWarningTime), which this cluster's callers have
            // given up on after 10. With 100,000 users online it locked each of 100,000 activations per scan, 1.4 % of
            // the update's CPU in bursts (docs/benchmarks.md).
            o.GrainWorkloadAnalysisPeriod = TimeSpan.Zero;
        });
        if (options.UsesPostgres)
        {
            var connectionString = options.ConnectionString!;
            var advertised = options.AdvertisedAddress;
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
            silo.ConfigureEndpoints(advertised, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(advertised));
            silo.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (PresenceClusterOptions.Invariant, connectionString));
            silo.UseAdoNetReminderService(o => (o.Invariant, o.ConnectionString) = (PresenceClusterOptions.Invariant, connectionString));
            // Grain states and collections share one pool of connections; the container disposes it after both.
            silo.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
            silo.Services.AddKeyedSingleton<IGrainStorage>(PresenceStorage.Name, (provider, _) => new PostgresGrainStorage(
                provider.GetRequiredService<NpgsqlDataSource>(),
                provider.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
                new OrleansGrainStorageSerializer(provider.GetRequiredService<Serializer>()),
                provider.GetRequiredService<IActivatorProvider>()));
            silo.Services.AddSingleton<ICollectionStore>(provider => new PostgresCollectionStore(
                provider.GetRequiredService<NpgsqlDataSource>(), provider.GetRequiredService<IOptions<ClusterOptions>>()));
            silo.Configure<ClusterMembershipOptions>(PresenceClusterOptions.FastRecovery);
        }
        else
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
            silo.AddPresenceMemoryStorage();
            silo.UseInMemoryReminderService();
            // In-memory storage goes away with this process, and the process's shards with it: storing them would buy
            // nothing and cost every update a serialization.
            silo.Services.PostConfigure<PresenceIndexOptions>(o => o.Persist = false);
            // One silo (its storage is its own memory), so it owns the whole grain directory, and every lookup is
            // already a local dictionary read. Orleans' directory cache would only copy each activated grain's address
            // beside it and keep it after the grain is gone, until its expiry pass, four to eight minutes on, walks
            // every entry: a second of CPU per 300,000 users, long after a load is over.
            silo.Configure<GrainDirectoryOptions>(o => o.CachingStrategy = GrainDirectoryOptions.CachingStrategyType.None);
        }
        if (options.DashboardEnabled)
        {
            silo.AddDashboard();
        }
        return silo;
    }

    /// <summary>
    /// The presence grains' states and collections in this process's memory, states with the Orleans binary serializer
    /// (<see cref="MemoryStates"/>; a test cluster registers one instance for all its silos).
    /// </summary>
    public static ISiloBuilder AddPresenceMemoryStorage(this ISiloBuilder silo)
    {
        silo.Services.TryAddSingleton<MemoryStates>();
        silo.Services.AddKeyedSingleton<IGrainStorage>(PresenceStorage.Name, (provider, _) => new MemoryGrainStateStorage(
            provider.GetRequiredService<MemoryStates>(),
            new OrleansGrainStorageSerializer(provider.GetRequiredService<Serializer>()),
            provider.GetRequiredService<IActivatorProvider>()));
        silo.Services.TryAddSingleton<ICollectionStore, MemoryCollectionStore>();
        return silo;
    }
}
