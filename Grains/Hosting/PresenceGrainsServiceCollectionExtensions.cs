using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Presence.Client;
using Presence.Grains.Index;

namespace Presence.Grains.Hosting;

public static class PresenceGrainsServiceCollectionExtensions
{
    /// <summary>What the grains need in a silo: their options, validated at start-up, the index publisher and the silo's own shards.</summary>
    public static IServiceCollection AddPresenceGrains(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<PresenceExpiryOptions>().BindConfiguration(PresenceExpiryOptions.Section)
            .Validate(o => o.Default > TimeSpan.Zero, $"{PresenceExpiryOptions.Section}:Default must be a positive duration, e.g. 00:15:00.")
            .Validate(o => o.ChannelMax > TimeSpan.Zero, $"{PresenceExpiryOptions.Section}:ChannelMax must be a positive duration, e.g. 7.00:00:00.")
            .ValidateOnStart();
        services.AddOptions<PresenceChannelOptions>().BindConfiguration(PresenceChannelOptions.Section)
            .Validate(o => o.LastSeenRetention > TimeSpan.Zero, $"{PresenceChannelOptions.Section}:LastSeenRetention must be a positive duration, e.g. 30.00:00:00.")
            .Validate(o => o.MaxMembers >= 1, $"{PresenceChannelOptions.Section}:MaxMembers must be at least 1.")
            .ValidateOnStart();
        services.AddOptions<PresenceSubscriptionOptions>().BindConfiguration(PresenceSubscriptionOptions.Section)
            .Validate(o => o.Max >= 1, $"{PresenceSubscriptionOptions.Section}:Max must be at least 1.")
            .ValidateOnStart();
        services.AddPresenceGrainsClient();
        services.AddOptions<PresenceStorageOptions>().BindConfiguration(PresenceStorageOptions.Section)
            .Validate(o => o.RefreshCoalesce >= TimeSpan.Zero, $"{PresenceStorageOptions.Section}:RefreshCoalesce must not be negative.")
            .ValidateOnStart();
        services.AddOptions<PresenceUserOptions>().BindConfiguration(PresenceUserOptions.Section)
            .Validate(o => o.IdleActivation >= TimeSpan.FromMinutes(2), $"{PresenceUserOptions.Section}:IdleActivation must be at least 00:02:00.")
            .ValidateOnStart();
        services.AddOptions<GrainCollectionOptions>().Configure<Microsoft.Extensions.Options.IOptions<PresenceUserOptions>>((collection, users) =>
        {
            collection.ClassSpecificCollectionAge[typeof(Users.UserPresenceGrain).FullName!] = users.Value.IdleActivation;
            // An empty shard goes soon (a shard holding anything keeps itself: PresenceIndexGrain.KeepWhileNeeded).
            collection.ClassSpecificCollectionAge[typeof(PresenceIndexGrain).FullName!] = PresenceIndexGrain.IdleFor;
            collection.ClassSpecificCollectionAge[typeof(IndexPoolGrain).FullName!] = PresenceIndexGrain.IdleFor;
            // A tenant's directory holds nothing: it goes soon (Orleans wants an age above its one-minute collection quantum).
            collection.ClassSpecificCollectionAge[typeof(PresenceDirectoryGrain).FullName!] = PresenceDirectoryGrain.IdleFor;
        });
        services.AddSingleton<IndexPublisher>();
        services.TryAddSingleton<IndexLayout>();
        services.TryAddSingleton<IndexNodes>();
        services.TryAddSingleton<IndexDirectory>();
        services.AddSingleton<IndexNodeServices>();
        services.AddSingleton<Storage.CollectionStorage>();
        services.AddSingleton<LocalIndexShards>();
        services.AddMetrics();
        services.TryAddSingleton<PresenceMetrics>();
        return services;
    }

    /// <summary>
    /// What an edge needs to call the grains, in either topology (beside a silo in the same process, or as an Orleans
    /// client of silos elsewhere): the index's options, validated at start-up (every process must agree on them), and
    /// <see cref="IPresenceGrains"/>. Registered once, by whichever asks first.
    /// </summary>
    public static IServiceCollection AddPresenceGrainsClient(this IServiceCollection services)
    {
        if (services.Any(s => s.ServiceType == typeof(GrainsClientRegistered)))
        {
            return services;
        }
        services.AddSingleton<GrainsClientRegistered>();
        services.AddOptions<PresenceIndexOptions>().BindConfiguration(PresenceIndexOptions.Section)
            .Validate(o => o.Shards is >= 1 and <= PresenceIndexOptions.MaxShards, $"{PresenceIndexOptions.Section}:Shards must be between 1 and {PresenceIndexOptions.MaxShards}.")
            .Validate(o => o.SplitAt >= 1, $"{PresenceIndexOptions.Section}:SplitAt must be at least 1.")
            .Validate(o => o.Pools is >= 0 and <= 65536, $"{PresenceIndexOptions.Section}:Pools must be between 0 and 65536.")
            .ValidateOnStart();
        services.TryAddSingleton<IndexLayout>();
        services.TryAddSingleton<IndexNodes>();
        services.TryAddSingleton<IPresenceGrains, PresenceGrains>();
        return services;
    }

    /// <summary>Marks <see cref="AddPresenceGrainsClient"/> done: its options are bound and validated once.</summary>
    private sealed class GrainsClientRegistered;
}
