using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Presence.Grains.Storage;

/// <summary>
/// The grain storage of the in-memory mode: states serialized into <see cref="MemoryStates"/>, with the same contract
/// as any other provider (an ETag per write, <see cref="InconsistentStateException"/> when another write came between),
/// so a grain cannot tell it from PostgreSQL but by its speed.
/// </summary>
public sealed class MemoryGrainStateStorage(MemoryStates states, IGrainStorageSerializer serializer, IActivatorProvider activators) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = states.Find(stateName, grainId);
        var loaded = stored is null ? default : serializer.Deserialize<T>(new BinaryData(stored.Data));
        grainState.State = loaded ?? activators.GetActivator<T>().Create();
        grainState.ETag = stored?.ETag;
        grainState.RecordExists = loaded is not null;
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // Exactly the bytes written, copied: the serializer's buffer has room to spare.
        var etag = states.Replace(stateName, grainId, grainState.ETag, serializer.Serialize(grainState.State).ToMemory().Span);
        if (etag is null)
        {
            return Task.FromException(Conflict(stateName, grainId, grainState.ETag));
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (!states.Remove(stateName, grainId, grainState.ETag))
        {
            return Task.FromException(Conflict(stateName, grainId, grainState.ETag));
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = activators.GetActivator<T>().Create();
        return Task.CompletedTask;
    }

    private InconsistentStateException Conflict(string stateName, GrainId grainId, string? etag)
        => StateConflict.Of(stateName, grainId, states.Find(stateName, grainId)?.ETag, etag);
}
