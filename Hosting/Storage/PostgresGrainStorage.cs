using System.Globalization;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using Presence.Grains.Storage;
using Presence.Storage;

namespace Presence.Hosting.Storage;

/// <summary>
/// Grain states in PostgreSQL (<c>presence_state</c>, migration 0003), written with group commit: the writes of all
/// the silo's grains that wait while earlier ones are in flight go to the database together, as one statement, so
/// one transaction and one WAL flush stand for a whole batch. A write still returns only once its row is committed,
/// and each row keeps its own ETag check (its version), so a stale activation's write fails alone, with
/// <see cref="InconsistentStateException"/>, while the rest of its batch commits. Orleans' ADO.NET storage, which
/// this replaces, spends a statement, a commit and a WAL flush on every write. A database failure surfaces as
/// <see cref="StorageUnavailableException"/> (the gateway answers 503): the driver's exceptions cannot cross the wire.
/// </summary>
public sealed class PostgresGrainStorage : IGrainStorage, IAsyncDisposable
{
    // One call for the batch (presence_state_write, migration 0003): the version each write stored, 0 for a write that
    // lost to another activation.
    private const string WriteBatch = "SELECT presence_state_write($1, $2, $3, $4, $5)";

    private const string Read = "SELECT version, payload FROM presence_state WHERE serviceid = $1 AND name = $2 AND key = $3";

    // A cleared state keeps its row, without payload, and moves its version on: an activation that read it before
    // cannot write over it. It reads as never written (no ETag), as in the in-memory storage.
    private const string Clear = "UPDATE presence_state SET version = version + 1, payload = NULL WHERE serviceid = $1 AND name = $2 AND key = $3 AND version = $4 RETURNING version";

    private const string Exists = "SELECT count(*) FROM presence_state WHERE serviceid = $1 AND name = $2 AND key = $3 AND payload IS NOT NULL";

    /// <summary>Batches in flight at once: enough to keep PostgreSQL busy while one commits, few enough to batch.</summary>
    public const int Writers = 4;

    /// <summary>The most writes one statement carries.</summary>
    public const int MaxBatch = 256;

    private readonly NpgsqlDataSource _database;
    private readonly string _service;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;
    private readonly Channel<PendingWrite> _pending = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly Task[] _writers;
    private long _batches;
    private long _writes;

    public PostgresGrainStorage(NpgsqlDataSource database, string serviceId, IGrainStorageSerializer serializer, IActivatorProvider activators)
    {
        (_database, _service, _serializer, _activators) = (database, serviceId, serializer, activators);
        _writers = [.. Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteLoop))];
    }

    /// <summary>Statements that wrote states so far, and the writes they carried: their ratio is the batching achieved.</summary>
    public (long Batches, long Writes) Written => (Interlocked.Read(ref _batches), Interlocked.Read(ref _writes));

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        long? version = null;
        byte[]? payload = null;
        try
        {
            await using var command = Command(Read, stateName, grainId);
            await using var reader = await command.ExecuteReaderAsync();
            if (await reader.ReadAsync())
            {
                version = reader.GetInt64(0);
                payload = reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1);
            }
        }
        catch (NpgsqlException error)
        {
            throw PostgresErrors.Unavailable(error);
        }
        var state = payload is null ? default : _serializer.Deserialize<T>(new BinaryData(payload));
        grainState.State = state ?? _activators.GetActivator<T>().Create();
        grainState.ETag = payload is null ? null : version?.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = state is not null;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // Serialized now, on the grain's turn: what is written is the state as the grain left it when it asked.
        var write = new PendingWrite(stateName, grainId.Key.ToString()!, ParseETag(grainState.ETag), _serializer.Serialize(grainState.State).ToArray());
        if (!_pending.Writer.TryWrite(write))
        {
            throw new StorageUnavailableException("storage unavailable: the silo is shutting down");
        }
        var version = await write.Done.Task;
        if (version == 0)
        {
            throw StateConflict.Of(stateName, grainId, null, grainState.ETag);
        }
        grainState.ETag = version.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var expected = ParseETag(grainState.ETag);
        bool cleared;
        try
        {
            if (expected == 0)
            {
                // Nothing stored as far as this activation knows: true only if no state is stored.
                await using var exists = Command(Exists, stateName, grainId);
                cleared = (long)(await exists.ExecuteScalarAsync())! == 0;
            }
            else
            {
                await using var command = Command(Clear, stateName, grainId);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected });
                cleared = await command.ExecuteScalarAsync() is long;
            }
        }
        catch (NpgsqlException error)
        {
            throw PostgresErrors.Unavailable(error);
        }
        if (!cleared)
        {
            throw StateConflict.Of(stateName, grainId, null, grainState.ETag);
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = _activators.GetActivator<T>().Create();
    }

    /// <summary>
    /// Takes what is waiting, up to <see cref="MaxBatch"/> writes of distinct states, and writes it in one statement.
    /// No timer: a lone write goes at once, and under load a batch is whatever came while the writers were busy.
    /// </summary>
    private async Task WriteLoop()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        var keys = new HashSet<(string, string)>();
        PendingWrite? carried = null;
        while (carried is not null || await _pending.Reader.WaitToReadAsync())
        {
            batch.Clear();
            keys.Clear();
            if (carried is not null)
            {
                batch.Add(carried);
                keys.Add((carried.Name, carried.Key));
                carried = null;
            }
            while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var next))
            {
                // A state's second write waits for the next batch: it names the version its first write is making.
                if (!keys.Add((next.Name, next.Key)))
                {
                    carried = next;
                    break;
                }
                batch.Add(next);
            }
            if (batch.Count > 0)
            {
                // Rows locked in one order by every batch: two batches in flight never wait on each other in a cycle.
                batch.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name) is var byName and not 0 ? byName : string.CompareOrdinal(a.Key, b.Key));
                await WriteAsync(batch);
            }
        }
    }

    private async Task WriteAsync(List<PendingWrite> batch)
    {
        var names = new string[batch.Count];
        var keys = new string[batch.Count];
        var expected = new long[batch.Count];
        var payloads = new byte[batch.Count][];
        for (var i = 0; i < batch.Count; i++)
        {
            (names[i], keys[i], expected[i], payloads[i]) = (batch[i].Name, batch[i].Key, batch[i].Expected, batch[i].Payload);
        }
        long[] versions;
        try
        {
            await using var command = _database.CreateCommand(WriteBatch);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _service });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = expected, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            versions = (long[])(await command.ExecuteScalarAsync())!;
        }
        catch (Exception error)
        {
            // Nothing of the statement committed: every write of the batch fails, and none was acknowledged.
            var failure = error is NpgsqlException database ? PostgresErrors.Unavailable(database) : error;
            foreach (var write in batch)
            {
                write.Done.TrySetException(failure);
            }
            return;
        }
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _writes, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(versions[i]);
        }
    }

    private NpgsqlCommand Command(string sql, string stateName, GrainId grainId)
    {
        var command = _database.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _service });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = stateName });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.Key.ToString()! });
        return command;
    }

    /// <summary>0 for no ETag (nothing stored yet); versions start at 1.</summary>
    private static long ParseETag(string? etag)
        => string.IsNullOrEmpty(etag) ? 0
        : long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0 ? version
        : throw new InconsistentStateException($"ETag {etag} is not one this storage gave");

    /// <summary>Writes what was asked before the silo stopped, then stops the writers.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private sealed class PendingWrite(string name, string key, long expected, byte[] payload)
    {
        public string Name { get; } = name;
        public string Key { get; } = key;
        public long Expected { get; } = expected;
        public byte[] Payload { get; } = payload;
        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
