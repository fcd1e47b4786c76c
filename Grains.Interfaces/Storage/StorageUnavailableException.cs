namespace Presence.Storage;

/// <summary>
/// The grains' storage (PostgreSQL) could not be reached. Thrown instead of the driver's own exception, which
/// Orleans cannot send across the wire, so the gateway can answer 503 and the client can retry later.
/// </summary>
[GenerateSerializer, Alias("presence.StorageUnavailableException")]
public sealed class StorageUnavailableException : Exception
{
    public StorageUnavailableException()
    {
    }

    public StorageUnavailableException(string message) : base(message)
    {
    }

    public StorageUnavailableException(string message, Exception inner) : base(message, inner)
    {
    }
}
