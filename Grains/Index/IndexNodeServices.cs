using Microsoft.Extensions.Options;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;

namespace Presence.Grains.Index;

/// <summary>What every index node uses, in one reference per node (a pool holds many nodes).</summary>
public sealed class IndexNodeServices(
    IGrainFactory grains,
    CollectionStorage storage,
    TimeProvider time,
    PresenceMetrics metrics,
    LocalIndexShards local,
    IOptions<PresenceIndexOptions> options,
    IOptions<PresenceStorageOptions> storageOptions,
    ILoggerFactory loggers)
{
    public IGrainFactory Grains { get; } = grains;
    internal CollectionStorage Storage { get; } = storage;
    public TimeProvider Time { get; } = time;
    public PresenceMetrics Metrics { get; } = metrics;
    public LocalIndexShards Local { get; } = local;
    public IOptions<PresenceIndexOptions> Options { get; } = options;
    public IOptions<PresenceStorageOptions> StorageOptions { get; } = storageOptions;
    internal ILogger Logger { get; } = loggers.CreateLogger("Presence.Grains.Index.IndexNode");
}
