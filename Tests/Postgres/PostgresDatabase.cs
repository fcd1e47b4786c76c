using Npgsql;
using Presence.Hosting.Storage;

namespace Presence.Tests.Postgres;

/// <summary>A fresh database per test class on the test server, migrated, dropped at the end.</summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    private readonly string _name = $"presence_test_{Guid.NewGuid():N}";

    public string ConnectionString { get; private set; } = "";

    /// <summary>A pool of connections to the database, for stores under test; disposed with it.</summary>
    public NpgsqlDataSource DataSource => _source ?? throw new InvalidOperationException("PostgreSQL is not configured");

    private NpgsqlDataSource? _source;

    /// <summary>The stores a contract test runs against: memory, and PostgreSQL when the PostgreSQL tests run.</summary>
    public static TheoryData<string> Stores => new PostgresFactAttribute().Skip is null ? ["memory", "postgres"] : ["memory"];

    public async Task InitializeAsync()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PostgresFactAttribute.Variable))
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return; // every test of the class is skipped
        }
        var server = new NpgsqlConnectionStringBuilder(PostgresFactAttribute.ServerConnectionString);
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {_name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        server.Database = _name;
        server.Pooling = true;
        ConnectionString = server.ConnectionString;
        _source = NpgsqlDataSource.Create(ConnectionString);
    }

    public Task<int> Migrate() => new SchemaMigrator(ConnectionString, Microsoft.Extensions.Logging.Abstractions.NullLogger<SchemaMigrator>.Instance).MigrateAsync();

    public async Task<T?> Scalar<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task DisposeAsync()
    {
        if (ConnectionString.Length == 0)
        {
            return;
        }
        await _source!.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        var server = new NpgsqlConnectionStringBuilder(PostgresFactAttribute.ServerConnectionString);
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
