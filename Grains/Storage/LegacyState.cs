using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Presence.Grains.Hosting;

namespace Presence.Grains.Storage;

/// <summary>
/// State a grain stored as one blob (Orleans grain storage) before it stored its collection by change: read once, on
/// the first activation that finds no collection, carried over, then cleared.
/// </summary>
/// <param name="id">The grain whose state it is, when not <paramref name="grain"/> itself.</param>
internal sealed class LegacyState<T>(IGrainBase grain, string stateName, GrainId? id = null) where T : class, new()
{
    private readonly GrainId _id = id ?? grain.GrainContext.GrainId;
    private readonly GrainState<T> _state = new(new T());

    private IGrainStorage Storage => grain.GrainContext.ActivationServices.GetRequiredKeyedService<IGrainStorage>(PresenceStorage.Name);

    /// <summary>The old state, or null when none was stored.</summary>
    public async Task<T?> ReadAsync()
    {
        await Storage.ReadStateAsync(stateName, _id, _state);
        return _state.RecordExists ? _state.State : null;
    }

    /// <summary>Removes the old state once its content is stored the new way.</summary>
    public Task ClearAsync() => Storage.ClearStateAsync(stateName, _id, _state);
}
