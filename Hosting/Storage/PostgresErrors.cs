using Npgsql;
using Presence.Storage;

namespace Presence.Hosting.Storage;

/// <summary>How a PostgreSQL failure leaves this project's stores: a type Orleans can send back to the caller (the driver's cannot cross the wire), answered with 503.</summary>
internal static class PostgresErrors
{
    public static StorageUnavailableException Unavailable(NpgsqlException error) => new($"storage unavailable: {error.Message}");
}
