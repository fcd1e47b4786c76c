using System.Globalization;
using System.Reflection;
using Npgsql;

namespace Presence.Hosting.Storage;

/// <summary>
/// Applies this project's PostgreSQL schema: numbered scripts embedded in this assembly (Storage/Migrations,
/// <c>0001_name.sql</c>), each applied once and recorded in <c>presence_schema_version</c>. Everything happens in
/// one transaction under an advisory lock, so running it on every deploy, from several processes at once, is safe:
/// the first applies what is missing, the others wait and then find nothing to do.
/// </summary>
public sealed partial class SchemaMigrator(string connectionString, ILogger<SchemaMigrator> logger)
{
    // Any constant shared by every migrator of this schema; "presence" in ASCII.
    private const long AdvisoryLockKey = 0x70726573656e6365;
    private const string ResourcePrefix = "Presence.Migrations.";

    public static IReadOnlyList<(int Version, string Name, string Sql)> Scripts()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        return [.. assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n =>
            {
                var name = n[ResourcePrefix.Length..^4];
                var version = int.Parse(name.AsSpan(0, name.IndexOf('_')), NumberStyles.None, CultureInfo.InvariantCulture);
                using var reader = new StreamReader(assembly.GetManifestResourceStream(n)!);
                return (version, name, reader.ReadToEnd());
            })
            .OrderBy(s => s.version)];
    }

    /// <summary>Applies the scripts not yet applied; returns how many it applied.</summary>
    public Task<int> MigrateAsync(CancellationToken cancellationToken = default) => MigrateAsync(int.MaxValue, cancellationToken);

    /// <summary>Applies the scripts not yet applied up to version <paramref name="through"/>: a database as an earlier release left it.</summary>
    internal async Task<int> MigrateAsync(int through, CancellationToken cancellationToken = default)
    {
        await using var connection = await Connect(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({AdvisoryLockKey})", cancellationToken);
        await Execute(connection, transaction, """
            CREATE TABLE IF NOT EXISTS presence_schema_version (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, cancellationToken);

        var applied = new HashSet<int>();
        await using (var query = new NpgsqlCommand("SELECT version FROM presence_schema_version", connection, transaction))
        await using (var reader = await query.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetInt32(0));
            }
        }

        var count = 0;
        foreach (var (version, name, sql) in Scripts())
        {
            if (applied.Contains(version) || version > through)
            {
                continue;
            }
            await Execute(connection, transaction, sql, cancellationToken);
            await using var record = new NpgsqlCommand("INSERT INTO presence_schema_version (version, name) VALUES ($1, $2)", connection, transaction);
            record.Parameters.AddWithValue(version);
            record.Parameters.AddWithValue(name);
            await record.ExecuteNonQueryAsync(cancellationToken);
            LogApplied(name);
            count++;
        }
        await transaction.CommitAsync(cancellationToken);
        LogDone(count, applied.Count + count);
        return count;
    }

    /// <summary>Waits up to a minute for PostgreSQL to accept connections: a deploy may start it at the same time.</summary>
    private async Task<NpgsqlConnection> Connect(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            var connection = new NpgsqlConnection(connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken);
                return connection;
            }
            catch (NpgsqlException error) when (DateTime.UtcNow < deadline)
            {
                await connection.DisposeAsync();
                LogWaiting(error);
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL not reachable yet; retrying")]
    private partial void LogWaiting(Exception error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied schema migration {Name}")]
    private partial void LogApplied(string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schema up to date: {Applied} migrations applied now, {Total} in all")]
    private partial void LogDone(int applied, int total);
}
