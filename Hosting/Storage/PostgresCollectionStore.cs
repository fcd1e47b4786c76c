using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;
using Presence.Grains.Storage;
using Presence.Storage;

namespace Presence.Hosting.Storage;

/// <summary>
/// Collections in PostgreSQL (<c>presence_collection</c>, <c>presence_collection_item</c>, migration 0002): a load is
/// one statement (one snapshot: head and items agree), a write one call of <c>presence_collection_write</c> (one round
/// trip, atomic, fenced by the version), on the silo's data source, which its grain storage shares. Database failures
/// surface as <see cref="StorageUnavailableException"/> (the gateway answers 503), a stale activation's write as
/// <see cref="StorageConflictException"/>.
/// </summary>
public sealed class PostgresCollectionStore(NpgsqlDataSource database, IOptions<ClusterOptions> cluster) : ICollectionStore
{
    private const string Load = """
        SELECT NULL::text, head, version FROM presence_collection WHERE serviceid = $1 AND kind = $2 AND key = $3
        UNION ALL
        SELECT item, payload, NULL::bigint FROM presence_collection_item WHERE serviceid = $1 AND kind = $2 AND key = $3
        """;

    private const string Write = "SELECT presence_collection_write($1, $2, $3, $4, $5, $6, $7)";

    private readonly string _service = cluster.Value.ServiceId;

    public async Task<StoredCollection> LoadAsync(CollectionKind kind, string key, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = database.CreateCommand(Load);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _service });
            command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)kind });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            long version = 0;
            byte[]? head = null;
            var items = new List<KeyValuePair<string, byte[]>>();
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.IsDBNull(0))
                {
                    head = reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1);
                    version = reader.GetInt64(2);
                }
                else
                {
                    items.Add(new(reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
                }
            }
            return version == 0 && items.Count == 0 ? StoredCollection.Empty : new StoredCollection(version, head, items);
        }
        catch (NpgsqlException error)
        {
            throw PostgresErrors.Unavailable(error);
        }
    }

    public async Task<long> WriteAsync(CollectionKind kind, string key, CollectionWrite write, CancellationToken cancellationToken)
    {
        var items = new string[write.Items.Count];
        var payloads = new byte[]?[write.Items.Count];
        for (var i = 0; i < items.Length; i++)
        {
            (items[i], payloads[i]) = (write.Items[i].Key, write.Items[i].Value);
        }
        try
        {
            await using var command = database.CreateCommand(Write);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _service });
            command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)kind });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = write.ExpectedVersion });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)write.Head ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bytea });
            command.Parameters.Add(new NpgsqlParameter { Value = items, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (PostgresException error) when (error.SqlState == "PX409")
        {
            throw new StorageConflictException(error.MessageText);
        }
        catch (NpgsqlException error)
        {
            throw PostgresErrors.Unavailable(error);
        }
    }
}
