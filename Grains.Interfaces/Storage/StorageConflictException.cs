namespace Presence.Storage;

/// <summary>
/// Another activation of the grain wrote its storage first: this one held a stale copy (two activations can briefly
/// coexist while a silo is being declared dead). The stale activation is dropped without writing; a retry reaches
/// the current one, so the gateway retries the call as it does during a failover.
/// </summary>
[GenerateSerializer, Alias("presence.StorageConflictException")]
public sealed class StorageConflictException : Exception
{
    public StorageConflictException()
    {
    }

    public StorageConflictException(string message) : base(message)
    {
    }

    public StorageConflictException(string message, Exception inner) : base(message, inner)
    {
    }
}
