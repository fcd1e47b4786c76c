using Npgsql;
using Presence.Hosting.Storage;

namespace Presence.Tests.Postgres;

/// <summary>A fresh database per test class on the test server, migrated, dropped at the end.</summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    private readonly string _name = $"presence_test_{Guid.NewGuid():N}";

    public string ConnectionString { get; private set; } = "";

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
        NpgsqlConnection.ClearAllPools();
        var server = new NpgsqlConnectionStringBuilder(PostgresFactAttribute.ServerConnectionString);
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
