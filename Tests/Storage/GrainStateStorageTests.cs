using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using Presence.Grains.Storage;
using Presence.Grains.Users;
using Presence.Hosting.Storage;
using Presence.Tests.Postgres;

namespace Presence.Tests.Storage;

/// <summary>
/// The grain storages keep the contract of every Orleans storage provider, the in-memory mode's and PostgreSQL's (when
/// the PostgreSQL tests run: <see cref="PostgresFactAttribute"/>): a stored state reads back as written, a write or a
/// clear over a state someone else wrote since fails, and nothing it refuses changes what is stored.
/// </summary>
public sealed class GrainStateStorageTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private const string StateName = "user";
    private static readonly IServiceProvider Services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private readonly MemoryStates _states = new();
    private PostgresGrainStorage? _postgres;

    public static TheoryData<string> Stores => PostgresDatabase.Stores;

    public async Task InitializeAsync()
    {
        if (database.ConnectionString.Length > 0)
        {
            await database.Migrate();
            _postgres = Postgres("contract");
        }
    }

    public async Task DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    private static OrleansGrainStorageSerializer Serializer => new(Services.GetRequiredService<Serializer>());

    private IGrainStorage Storage(string store) => store == "postgres"
        ? _postgres!
        : new MemoryGrainStateStorage(_states, Serializer, Services.GetRequiredService<IActivatorProvider>());

    private PostgresGrainStorage Postgres(string serviceId) => new(database.DataSource, serviceId, Serializer, Services.GetRequiredService<IActivatorProvider>());

    private static GrainId NewId() => GrainId.Create("user", Guid.NewGuid().ToString("N"));

    private static GrainState<UserPresenceState> State(string? etag, long version = 0) => new(new UserPresenceState { Version = version }, etag);

    [Theory, MemberData(nameof(Stores))]
    public async Task A_state_never_written_reads_as_a_new_one_without_an_etag(string store)
    {
        var read = State("stale", 7);
        await Storage(store).ReadStateAsync(StateName, NewId(), read);
        Assert.Null(read.ETag);
        Assert.False(read.RecordExists);
        Assert.Equal(0, read.State!.Version);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task A_written_state_reads_back_as_a_copy_under_the_etag_its_write_returned(string store)
    {
        var id = NewId();
        var written = State(null, 3);
        written.State!.Sources["api"] = new PresenceSource("online", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(15));
        await Storage(store).WriteStateAsync(StateName, id, written);
        written.State!.Version = 99; // the grain's memory moves on; what is stored does not

        var read = State(null);
        await Storage(store).ReadStateAsync(StateName, id, read);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(3, read.State!.Version);
        Assert.Equal("online", read.State!.Sources["api"].Status);
        Assert.Equal(0, (await ReadVersion(store, "other", id)).Version); // state names are apart
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task A_write_over_a_state_written_since_fails_and_leaves_the_newer_one(string store)
    {
        var id = NewId();
        var first = State(null, 1);
        await Storage(store).WriteStateAsync(StateName, id, first);
        var second = State(first.ETag, 2);
        await Storage(store).WriteStateAsync(StateName, id, second);
        Assert.NotEqual(first.ETag, second.ETag);

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage(store).WriteStateAsync(StateName, id, State(first.ETag, 3)));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage(store).WriteStateAsync(StateName, id, State(null, 4)));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage(store).ClearStateAsync(StateName, id, State(first.ETag)));
        Assert.Equal((2, second.ETag), await ReadVersion(store, StateName, id));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task A_cleared_state_reads_as_never_written_and_a_write_with_its_old_etag_fails(string store)
    {
        var id = NewId();
        var written = State(null, 5);
        await Storage(store).WriteStateAsync(StateName, id, written);
        var etag = written.ETag;
        await Storage(store).ClearStateAsync(StateName, id, written);
        Assert.Null(written.ETag);
        Assert.False(written.RecordExists);
        Assert.Equal(0, written.State!.Version);

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage(store).WriteStateAsync(StateName, id, State(etag, 6)));
        Assert.Equal((0, null), await ReadVersion(store, StateName, id));
        await Storage(store).WriteStateAsync(StateName, id, State(null, 7)); // written anew, as a first write
        Assert.Equal(7, (await ReadVersion(store, StateName, id)).Version);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Of_concurrent_writes_over_one_etag_exactly_one_succeeds(string store)
    {
        var id = NewId();
        var first = State(null, 1);
        await Storage(store).WriteStateAsync(StateName, id, first);
        var attempts = Enumerable.Range(2, 16).Select(version => Task.Run(async () =>
        {
            try
            {
                await Storage(store).WriteStateAsync(StateName, id, State(first.ETag, version));
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        })).ToArray();
        Assert.Single(await Task.WhenAll(attempts), succeeded => succeeded);
    }

    [Fact]
    public void In_memory_a_state_written_in_place_leaves_what_was_read_before_as_it_was()
    {
        var id = NewId();
        var etag = _states.Replace(StateName, id, null, [1, 2, 3])!;
        var read = _states.Find(StateName, id)!;

        var same = _states.Replace(StateName, id, etag, [4, 5, 6])!; // as long as before: into the row's own bytes
        var longer = _states.Replace(StateName, id, same, [7, 8, 9, 10])!;

        Assert.Equal(new byte[] { 1, 2, 3 }, read.Data);
        Assert.Equal(etag, read.ETag);
        var now = _states.Find(StateName, id)!;
        Assert.Equal(new byte[] { 7, 8, 9, 10 }, now.Data);
        Assert.Equal(longer, now.ETag);
        Assert.Null(_states.Replace(StateName, id, same, [0, 0, 0, 0]));
        Assert.True(_states.Remove(StateName, id, longer));
        Assert.Null(_states.Find(StateName, id));
        Assert.Null(_states.Replace(StateName, id, longer, [1]));
    }

    [Fact]
    public async Task In_memory_a_clear_and_a_write_over_the_same_etag_race_and_exactly_one_wins()
    {
        for (var round = 0; round < 200; round++)
        {
            var id = NewId();
            var etag = _states.Replace(StateName, id, null, [1])!;
            var start = new TaskCompletionSource();
            var clear = Task.Run(async () => { await start.Task; return _states.Remove(StateName, id, etag); });
            var write = Task.Run(async () => { await start.Task; return _states.Replace(StateName, id, etag, [2]); });
            var first = Task.Run(async () => { await start.Task; return _states.Replace(StateName, id, null, [3]); });
            start.SetResult();
            var (cleared, written, anew) = (await clear, await write, await first);

            Assert.True(cleared != (written is not null), $"round {round}: cleared {cleared}, written {written}");
            var stored = _states.Find(StateName, id);
            if (written is not null)
            {
                Assert.Null(anew); // a first write over a stored state fails
                Assert.Equal(new byte[] { 2 }, stored!.Data);
                Assert.Equal(written, stored.ETag);
            }
            else
            {
                // Cleared: the first write may have come after the clear, never before it.
                Assert.Equal(anew is null ? null : new byte[] { 3 }, stored?.Data);
            }
        }
    }

    [PostgresFact]
    public async Task Concurrent_writes_of_many_grains_commit_together_each_under_its_own_etag()
    {
        var storage = Postgres("batching");
        try
        {
            var ids = Enumerable.Range(0, 400).Select(_ => NewId()).ToArray();
            var states = ids.Select((_, i) => State(null, i + 1)).ToArray();
            await Task.WhenAll(ids.Select((id, i) => Task.Run(() => storage.WriteStateAsync(StateName, id, states[i]))));

            var (batches, writes) = storage.Written;
            Assert.Equal(400, writes);
            Assert.True(batches < 200, $"{batches} statements for 400 concurrent writes");
            for (var i = 0; i < ids.Length; i++)
            {
                var read = State(null);
                await storage.ReadStateAsync(StateName, ids[i], read);
                Assert.Equal((i + 1, states[i].ETag), (read.State!.Version, read.ETag));
            }
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task A_batch_looks_up_the_states_it_writes_not_every_state_of_the_cluster()
    {
        // 5,000 states written at once into a table PostgreSQL has no statistics for yet, as while users first come online.
        var storage = Postgres("lookups");
        var ids = Enumerable.Range(0, 5000).Select(_ => NewId()).ToArray();
        var states = ids.Select(_ => State(null, 1)).ToArray();
        try
        {
            await Task.WhenAll(ids.Select((id, i) => storage.WriteStateAsync(StateName, id, states[i])));
        }
        finally
        {
            await storage.DisposeAsync();
        }

        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var write = new NpgsqlCommand("SELECT presence_state_write('lookups', ARRAY['user', 'user'], $1, $2, ARRAY['\\x01', '\\x02']::bytea[])", connection, transaction))
        {
            write.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [ids[7].Key.ToString()!, "new"] });
            write.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [long.Parse(states[7].ETag!, System.Globalization.CultureInfo.InvariantCulture), 0] });
            var versions = (long[])(await write.ExecuteScalarAsync())!;
            Assert.Equal(new long[] { 2, 1 }, versions);
        }
        // This transaction's own reads of the states table, counted by PostgreSQL as they happen.
        await using var read = new NpgsqlCommand("SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables WHERE relname = 'presence_state'", connection, transaction);
        var tuples = (long)(await read.ExecuteScalarAsync())!;
        Assert.True(tuples < 20, $"a batch of 2 states read {tuples} rows of a 5,000-state table");
    }

    [PostgresFact]
    public async Task A_stale_write_fails_alone_and_the_writes_beside_it_commit()
    {
        var storage = Postgres("stale");
        try
        {
            var stale = NewId();
            var first = State(null, 1);
            await storage.WriteStateAsync(StateName, stale, first);
            await storage.WriteStateAsync(StateName, stale, State(first.ETag, 2));
            var others = Enumerable.Range(0, 100).Select(_ => NewId()).ToArray();

            var staleWrite = Task.Run(() => storage.WriteStateAsync(StateName, stale, State(first.ETag, 3)));
            var otherWrites = others.Select(id => Task.Run(() => storage.WriteStateAsync(StateName, id, State(null, 9)))).ToArray();
            await Assert.ThrowsAsync<InconsistentStateException>(() => staleWrite);
            await Task.WhenAll(otherWrites);

            // And within one batch: the stale row's version check fails, the fresh row beside it is written.
            await using (var batch = database.DataSource.CreateCommand("SELECT presence_state_write('stale', ARRAY['user', 'user'], $1, $2, ARRAY['\\x01', '\\x02']::bytea[])"))
            {
                batch.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [stale.Key.ToString()!, "fresh"] });
                batch.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [long.Parse(first.ETag!, System.Globalization.CultureInfo.InvariantCulture), 0] });
                var versions = (long[])(await batch.ExecuteScalarAsync())!;
                Assert.Equal(new long[] { 0, 1 }, versions);
            }
            Assert.Equal(2, await ReadIn("stale", stale));
            Assert.All(await Task.WhenAll(others.Select(id => ReadIn("stale", id))), version => Assert.Equal(9, version));
            // Each cluster (service) has its own states in a shared database.
            Assert.Equal(0, await ReadIn("stale-other", others[0]));
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task A_database_failure_fails_the_batch_as_storage_unavailable_and_nothing_is_acknowledged()
    {
        await using var broken = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = 1, Timeout = 2 }.ConnectionString);
        var storage = new PostgresGrainStorage(broken, "broken", Serializer, Services.GetRequiredService<IActivatorProvider>());
        try
        {
            var state = State(null, 1);
            await Assert.ThrowsAsync<Presence.Storage.StorageUnavailableException>(() => storage.WriteStateAsync(StateName, NewId(), state));
            Assert.Null(state.ETag);
            await Assert.ThrowsAsync<Presence.Storage.StorageUnavailableException>(() => storage.ReadStateAsync(StateName, NewId(), State(null)));
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task States_the_previous_release_stored_through_orleans_storage_are_carried_over_and_its_writes_refused()
    {
        var previous = new PostgresDatabase();
        await previous.InitializeAsync();
        try
        {
            // The database as the release before migration 0003 left it, with one user's state written by the ADO.NET
            // provider (its key columns for a string key: the key whole, n0 = n1 = 0).
            await new SchemaMigrator(previous.ConnectionString, Microsoft.Extensions.Logging.Abstractions.NullLogger<SchemaMigrator>.Instance).MigrateAsync(through: 2);
            var stored = new UserPresenceState { Version = 42 };
            stored.Sources["api"] = new PresenceSource("busy", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddHours(1));
            await using (var source = NpgsqlDataSource.Create(previous.ConnectionString))
            {
                await using var insert = source.CreateCommand("""
                    INSERT INTO orleans_storage (serviceid, graintypehash, grainidhash, grainidn0, grainidn1, graintypestring, grainidextensionstring, payloadbinary, version)
                    VALUES ('old', 1, 2, 0, 0, 'user', 'acme/ann', $1, 5)
                    """);
                insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = Serializer.Serialize(stored).ToArray() });
                await insert.ExecuteNonQueryAsync();
            }

            Assert.Equal(SchemaMigrator.Scripts().Count - 2, await previous.Migrate());
            await using (var source = NpgsqlDataSource.Create(previous.ConnectionString))
            {
                var storage = new PostgresGrainStorage(source, "old", Serializer, Services.GetRequiredService<IActivatorProvider>());
                var read = State(null);
                await storage.ReadStateAsync(StateName, GrainId.Create("presence-user", "acme/ann"), read);
                await storage.DisposeAsync();
                Assert.Equal(("5", 42L, "busy"), (read.ETag, read.State!.Version, read.State.Sources["api"].Status));

                await using var write = source.CreateCommand("UPDATE orleans_storage SET version = version + 1");
                var refused = await Assert.ThrowsAsync<PostgresException>(() => write.ExecuteNonQueryAsync());
                Assert.Equal("PX410", refused.SqlState);
            }
        }
        finally
        {
            await previous.DisposeAsync();
        }
    }

    private async Task<long> ReadIn(string serviceId, GrainId id)
    {
        var storage = Postgres(serviceId);
        try
        {
            var read = State(null);
            await storage.ReadStateAsync(StateName, id, read);
            return read.State!.Version;
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    private async Task<(long Version, string? ETag)> ReadVersion(string store, string stateName, GrainId id)
    {
        var read = State(null);
        await Storage(store).ReadStateAsync(stateName, id, read);
        return (read.State!.Version, read.ETag);
    }
}
