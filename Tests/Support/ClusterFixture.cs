using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Reminders;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Hosting;

namespace Presence.Tests.Support;

/// <summary>
/// Two in-process silos sharing one fake clock: grain timers and reminders fire when a test advances it; the
/// runtime's own background work stays on real time.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    public const int Shards = 4;

    /// <summary>Small, so that tests of a few users see nodes split (the default is 2,048).</summary>
    public const int SplitAt = 8;

    /// <summary>A tenant's root index node: where a tenant of up to <see cref="SplitAt"/> users lives.</summary>
    public static string RootKey(string tenant) => PresenceKeys.ShardKey(tenant, 0, Shards);

    /// <summary>The pool grain hosting a tenant's root.</summary>
    public Presence.Grains.Index.IIndexPoolGrain Pool(string tenant)
        => Grains.GetGrain<Presence.Grains.Index.IIndexPoolGrain>(PresenceKeys.PoolKey(PresenceKeys.PoolOf(tenant, new PresenceIndexOptions().Pools)));

    /// <summary>The pool hosting a tenant's root, as active in its silo (null: not active).</summary>
    public Presence.Grains.Index.IndexPoolGrain? PoolInstance(string tenant)
        => Cluster.TryGetGrainContext(Pool(tenant).GetGrainId(), out var context) ? context.GrainInstance as Presence.Grains.Index.IndexPoolGrain : null;

    /// <summary>Deactivates every grain of a tenant's index (its nodes, and the pool hosting its root), as a rolling restart would.</summary>
    public async Task DeactivateIndex(string tenant)
    {
        foreach (var node in NodeKeys(tenant))
        {
            await Cluster.DeactivateAsync(Grains.GetGrain<Presence.Index.IPresenceIndexGrain>(node));
        }
        await Cluster.DeactivateAsync(Pool(tenant));
    }

    /// <summary>Every index node a tenant can have (the root, its halves, theirs, down to one logical shard each).</summary>
    public static IEnumerable<string> NodeKeys(string tenant)
    {
        var ranges = new Queue<(int Lo, int Hi)>([(0, Shards)]);
        while (ranges.TryDequeue(out var range))
        {
            yield return PresenceKeys.ShardKey(tenant, range.Lo, range.Hi);
            if (range.Hi - range.Lo > 1)
            {
                var middle = (range.Lo + range.Hi) / 2;
                ranges.Enqueue((range.Lo, middle));
                ranges.Enqueue((middle, range.Hi));
            }
        }
    }

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>The silos' collections: one store for all, as a cluster's silos share one database.</summary>
    public MemoryCollectionStore Collections { get; } = new();

    /// <summary>While set, every collection write fails as a database that went down would (reads still work).</summary>
    public volatile bool CollectionWritesFail;

    private sealed class SwitchableCollections(ClusterFixture fixture) : ICollectionStore
    {
        public Task<StoredCollection> LoadAsync(CollectionKind kind, string key, CancellationToken cancellationToken)
            => fixture.Collections.LoadAsync(kind, key, cancellationToken);

        public Task<long> WriteAsync(CollectionKind kind, string key, CollectionWrite write, CancellationToken cancellationToken)
            => fixture.CollectionWritesFail
                ? Task.FromException<long>(new Presence.Storage.StorageUnavailableException("storage unavailable: the test took it down"))
                : fixture.Collections.WriteAsync(kind, key, write, cancellationToken);
    }

    /// <summary>The silos' grain states: one store for all, likewise.</summary>
    public MemoryStates States { get; } = new();
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IGrainFactory Grains => Cluster.Client;

    /// <summary>How many silos the cluster has.</summary>
    protected virtual short Silos => 2;

    /// <summary>Whether index nodes store what they hold (on, as with PostgreSQL; off in the in-memory mode).</summary>
    protected virtual bool PersistIndex => true;

    /// <summary>Counts the index nodes' Apply calls (to a node, or to a pool for its root), for tests of updates that need none.</summary>
    public IndexApplyCalls ApplyCalls { get; } = new();

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(Silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(States);
            silo.AddPresenceMemoryStorage();
            silo.Services.Replace(ServiceDescriptor.Singleton<ICollectionStore>(new SwitchableCollections(this)));
            silo.UseInMemoryReminderService();
            silo.Services.AddPresenceGrains();
            silo.Services.Configure<PresenceIndexOptions>(o => (o.Shards, o.SplitAt, o.Persist) = (Shards, SplitAt, PersistIndex));
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(ApplyCalls);
            silo.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Time));
            silo.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            silo.Services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, Time);
            silo.Services.Configure<ReminderOptions>(o => o.RefreshReminderListPeriod = TimeSpan.FromSeconds(1));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Moves the shared clock, then lets the grain timers it made due run.</summary>
    public async Task Advance(TimeSpan by)
    {
        Time.Advance(by);
        await Task.Delay(50);
    }

    /// <summary>Reads a grain's stored state straight from the storage provider, without activating the grain.</summary>
    public async Task<T> ReadStored<T>(string stateName, GrainId grainId) where T : new()
    {
        var services = Cluster.GetSiloServiceProvider();
        var storage = services.GetRequiredKeyedService<IGrainStorage>(PresenceStorage.Name);
        var state = new GrainState<T>(new T());
        await storage.ReadStateAsync(stateName, grainId, state);
        return state.State ?? new T();
    }

    /// <summary>A collection's rows as stored (<typeparamref name="T"/> each), and its head, without activating its grain.</summary>
    public async Task<(Dictionary<string, T> Items, THead? Head)> ReadCollection<T, THead>(CollectionKind kind, string key)
        where THead : class
    {
        var serializer = Cluster.GetSiloServiceProvider().GetRequiredService<Orleans.Serialization.Serializer>();
        var stored = await Collections.LoadAsync(kind, key, CancellationToken.None);
        return (stored.Items.ToDictionary(i => i.Key, i => serializer.Deserialize<T>(i.Value)!),
            stored.Head is null ? null : serializer.Deserialize<THead>(stored.Head));
    }

    /// <summary>One row of a collection as stored, for collections whose rows are of several types (an index node's).</summary>
    public async Task<T> ReadRow<T>(CollectionKind kind, string key, string item)
    {
        var serializer = Cluster.GetSiloServiceProvider().GetRequiredService<Orleans.Serialization.Serializer>();
        var row = (await Collections.LoadAsync(kind, key, CancellationToken.None)).Items.Single(i => i.Key == item);
        return serializer.Deserialize<T>(row.Value)!;
    }
}

/// <summary>
/// The default deployment's cluster: one silo (the gateway's process) whose index nodes store nothing, so an update
/// reaches its node in the same process without a call.
/// </summary>
public sealed class InMemoryClusterFixture : ClusterFixture
{
    protected override short Silos => 1;

    protected override bool PersistIndex => false;
}

/// <summary>
/// One silo whose index nodes store their rows, as a PostgreSQL silo's do: an update reaches its node in the same
/// process, and only a heartbeat is applied there without a call.
/// </summary>
public sealed class PersistedOneSiloClusterFixture : ClusterFixture
{
    protected override short Silos => 1;
}

/// <summary>Counts calls of Apply on index nodes and pools.</summary>
public sealed class IndexApplyCalls : IIncomingGrainCallFilter
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.Name == nameof(Presence.Index.IPresenceIndexGrain.Apply)
            && context.Grain is Presence.Grains.Index.PresenceIndexGrain or Presence.Grains.Index.IndexPoolGrain)
        {
            Interlocked.Increment(ref _count);
        }
        return context.Invoke();
    }
}

[CollectionDefinition(InMemoryClusterCollection.Name)]
public sealed class InMemoryClusterCollection : ICollectionFixture<InMemoryClusterFixture>
{
    public const string Name = "in-memory cluster";
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

[CollectionDefinition(Name)]
public sealed class PersistedOneSiloClusterCollection : ICollectionFixture<PersistedOneSiloClusterFixture>
{
    public const string Name = "persisted one-silo cluster";
}
