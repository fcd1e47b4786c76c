using Orleans.Storage;

namespace Presence.Grains.Storage;

/// <summary>What every grain storage of this project throws when a write or clear names an ETag that is no longer stored.</summary>
public static class StateConflict
{
    /// <param name="storedETag">The ETag stored now, when the storage knows it without another read.</param>
    public static InconsistentStateException Of(string stateName, GrainId grainId, string? storedETag, string? etag)
        => new($"{stateName} of {grainId}: stored under another ETag than {etag ?? "none"}: another activation wrote it", storedETag, etag);
}
