using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Presence.Grains.Storage;
using Presence.Hosting.Storage;
using Presence.Storage;
using Presence.Tests.Postgres;

namespace Presence.Tests.Storage;

/// <summary>
/// The contract every collection store keeps, for the in-memory store and for PostgreSQL (when the PostgreSQL tests
/// run: <see cref="PostgresFactAttribute"/>).
/// </summary>
public sealed class CollectionStoreTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly byte[] A = [1], B = [2], C = [3];
    private readonly MemoryCollectionStore _memory = new();
    private PostgresCollectionStore? _postgres;

    public static TheoryData<string> Stores => PostgresDatabase.Stores;

    public async Task InitializeAsync()
    {
        if (database.ConnectionString.Length > 0)
        {
            await database.Migrate();
            _postgres = Postgres("contract");
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory, MemberData(nameof(Stores))]
    public async Task A_collection_never_written_loads_empty_at_version_zero(string store)
    {
        var loaded = await Store(store).LoadAsync(CollectionKind.Channel, NewKey(), default);
        Assert.Equal(0, loaded.Version);
        Assert.Null(loaded.Head);
        Assert.Empty(loaded.Items);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Writes_put_and_delete_single_items_and_keep_the_head_unless_given(string store)
    {
        var key = NewKey();
        Assert.Equal(1, await Store(store).WriteAsync(CollectionKind.Channel, key, new(0, C, [Put("ann", A), Put("bob", B)]), default));
        Assert.Equal(2, await Store(store).WriteAsync(CollectionKind.Channel, key, new(1, null, [Delete("ann"), Put("bob", C), Put("cid", A), Delete("never")]), default));

        var loaded = await Store(store).LoadAsync(CollectionKind.Channel, key, default);
        Assert.Equal(2, loaded.Version);
        Assert.Equal(C, loaded.Head);
        Assert.Equal([("bob", C), ("cid", A)], loaded.Items.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => (i.Key, i.Value)));
        Assert.Empty((await Store(store).LoadAsync(CollectionKind.IndexShard, key, default)).Items); // kinds are apart
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task A_write_from_a_stale_version_is_refused_and_changes_nothing(string store)
    {
        var key = NewKey();
        await Store(store).WriteAsync(CollectionKind.Subscriptions, key, new(0, null, [Put("ann", A)]), default);
        await Store(store).WriteAsync(CollectionKind.Subscriptions, key, new(1, null, [Put("bob", B)]), default);

        await Assert.ThrowsAsync<StorageConflictException>(() => Store(store).WriteAsync(CollectionKind.Subscriptions, key, new(1, C, [Delete("ann")]), default));
        await Assert.ThrowsAsync<StorageConflictException>(() => Store(store).WriteAsync(CollectionKind.Subscriptions, key, new(0, C, [Delete("ann")]), default));
        var loaded = await Store(store).LoadAsync(CollectionKind.Subscriptions, key, default);
        Assert.Equal(2, loaded.Version);
        Assert.Null(loaded.Head);
        Assert.Equal(["ann", "bob"], loaded.Items.Select(i => i.Key).Order(StringComparer.Ordinal));
    }

    [PostgresFact]
    public async Task Clusters_that_share_a_database_keep_their_collections_apart()
    {
        var other = Postgres("other");
        var key = NewKey();
        await Store("postgres").WriteAsync(CollectionKind.Channel, key, new(0, null, [Put("ann", A)]), default);
        Assert.Equal(0, (await other.LoadAsync(CollectionKind.Channel, key, default)).Version);
        Assert.Equal(1, await other.WriteAsync(CollectionKind.Channel, key, new(0, null, [Put("bob", B)]), default));
        Assert.Equal(["ann"], (await Store("postgres").LoadAsync(CollectionKind.Channel, key, default)).Items.Select(i => i.Key));
    }

    [PostgresFact]
    public async Task A_write_looks_up_the_items_it_names_not_every_item_of_the_collection()
    {
        // A collection of 5,000 items, written at once into a table PostgreSQL has no statistics for yet: as a shard's
        // rows are while its users first come online.
        var key = NewKey();
        var version = await Store("postgres").WriteAsync(CollectionKind.IndexShard, key,
            new(0, null, [.. Enumerable.Range(0, 5000).Select(i => Put($"e:u{i:D5}", A))]), default);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var write = new NpgsqlCommand("SELECT presence_collection_write('contract', 2::smallint, $1, $2, NULL, ARRAY['e:u00007', 'e:new'], ARRAY[NULL, '\\x01'::bytea])", connection, transaction))
        {
            write.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            write.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version });
            await write.ExecuteScalarAsync();
        }
        // This transaction's own reads of the items table, counted by PostgreSQL as they happen.
        await using var read = new NpgsqlCommand("SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables WHERE relname = 'presence_collection_item'", connection, transaction);
        var tuples = (long)(await read.ExecuteScalarAsync())!;
        Assert.True(tuples < 50, $"a write of 2 items read {tuples} rows of a 5,000-item collection");
        await transaction.CommitAsync();
        Assert.Equal(5000, (await Store("postgres").LoadAsync(CollectionKind.IndexShard, key, default)).Items.Count);
    }

    private ICollectionStore Store(string name) => name == "memory" ? _memory
        : _postgres ?? throw new InvalidOperationException("PostgreSQL is not configured");

    private PostgresCollectionStore Postgres(string serviceId)
        => new(database.DataSource, Options.Create(new ClusterOptions { ServiceId = serviceId }));

    private static string NewKey() => $"t/{Guid.NewGuid():N}";

    private static KeyValuePair<string, byte[]?> Put(string item, byte[] payload) => new(item, payload);

    private static KeyValuePair<string, byte[]?> Delete(string item) => new(item, null);
}
