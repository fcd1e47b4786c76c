using System.Globalization;
using Npgsql;

namespace Presence.Bench;

/// <summary>
/// The PostgreSQL-backed topology as local processes: a private PostgreSQL (scripts/pg.sh), the migration, one silo
/// and one gateway that is its Orleans client.
/// </summary>
public sealed class BenchCluster : IAsyncDisposable
{
    private readonly string _directory;
    private readonly Scenarios.Owned _silo;

    private BenchCluster(string directory, string connectionString, Scenarios.Owned silo, ServerProcess gateway)
        => (_directory, ConnectionString, _silo, Gateway) = (directory, connectionString, silo, gateway);

    public string ConnectionString { get; }

    public ServerProcess Gateway { get; }

    /// <param name="gatewaySettings">Environment variables of the gateway only.</param>
    public static async Task<BenchCluster> Start(IDictionary<string, string> gatewaySettings)
    {
        // Directly under the temp directory: as root, PostgreSQL runs as 'postgres', which must reach this path.
        var directory = Path.Combine(Path.GetTempPath(), $"presence-bench-pg-{Guid.NewGuid():N}");
        var connection = (await Scenarios.Run("bash", Path.Combine(ServerProcess.Root, "scripts", "pg.sh"), "start", directory)).Trim().Split('\n')[^1];
        var cluster = new Dictionary<string, string> { ["ConnectionStrings__presence"] = connection, ["Presence__Silo__ClusterId"] = "bench", ["Presence__Silo__ServiceId"] = "bench" };
        await Scenarios.Run("dotnet", [ServerProcess.Dll("Silo"), "migrate"], cluster);
        var silo = new Scenarios.Owned(Scenarios.StartSilo(cluster));
        var gateway = await Scenarios.StartGateway(new Dictionary<string, string>(cluster.Concat(gatewaySettings)));
        return new BenchCluster(directory, connection, silo, gateway);
    }

    /// <summary>
    /// Storage writes so far: grain states (every write bumps a row's version by one, a new row starts at 1) and
    /// collections (likewise: one version per write, however many rows it carried).
    /// </summary>
    public async Task<long> StorageWrites()
        => await Scalar("SELECT (SELECT coalesce(sum(version), 0) FROM presence_state) + (SELECT coalesce(sum(version), 0) FROM presence_collection)");

    /// <summary>
    /// The write-ahead log's position in bytes: what the database really writes, full-page images included (read
    /// from the log itself; pg_stat_wal lags by up to a second of statistics).
    /// </summary>
    public async Task<long> WalBytes() => await Scalar("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint");

    /// <summary>
    /// Each table's row updates since the database started, and how many were HOT (heap-only: the new row version on the
    /// same page, no index entry written), from PostgreSQL's statistics.
    /// </summary>
    public async Task<string> RowUpdates()
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", connection);
        await command.ExecuteNonQueryAsync();
        command.CommandText = "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables WHERE relname LIKE 'presence%' ORDER BY relname";
        await using var reader = await command.ExecuteReaderAsync();
        var tables = new List<string>();
        while (await reader.ReadAsync())
        {
            tables.Add(FormattableString.Invariant($"{reader.GetString(0)} {reader.GetInt64(1):N0} inserted, {reader.GetInt64(2):N0} updated ({reader.GetInt64(3):N0} HOT), {reader.GetInt64(4):N0} deleted"));
        }
        return "rows: " + string.Join("; ", tables);
    }

    private async Task<long> Scalar(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>CPU time so far of the gateway, the silo and PostgreSQL (its server and every backend, those gone included).</summary>
    public (TimeSpan Gateway, TimeSpan Silo, TimeSpan Postgres) CpuTimes() => (Gateway.CpuTime, _silo.CpuTime, PostgresCpuTime());

    /// <summary>Each process's CPU time per request between two readings of <see cref="CpuTimes"/>.</summary>
    public static string PerRequest((TimeSpan Gateway, TimeSpan Silo, TimeSpan Postgres) before, (TimeSpan Gateway, TimeSpan Silo, TimeSpan Postgres) after, long requests)
    {
        string Micros(TimeSpan spent) => ServerProcess.MicrosPerRequest(spent, requests);
        return $"CPU µs/update: gateway {Micros(after.Gateway - before.Gateway)}, silo {Micros(after.Silo - before.Silo)}, PostgreSQL {Micros(after.Postgres - before.Postgres)}";
    }

    /// <summary>
    /// The postmaster's CPU time with that of the backends it reaped, plus its live children's: what PostgreSQL spent,
    /// read from /proc (clock ticks of 10 ms).
    /// </summary>
    private TimeSpan PostgresCpuTime()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(_directory, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        long ticks = 0;
        foreach (var process in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(process), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue; // not a process: /proc/self, /proc/sys...
            }
            string[] fields;
            try
            {
                var text = File.ReadAllText(Path.Combine(process, "stat"));
                fields = text[(text.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": state is field 0
            }
            catch (IOException)
            {
                continue; // gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
            if (pid == postmaster)
            {
                ticks += Enumerable.Range(11, 4).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture)); // utime, stime, cutime, cstime
            }
            else if (parent == postmaster)
            {
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    public async ValueTask DisposeAsync()
    {
        Gateway.Dispose();
        _silo.Dispose();
        await Scenarios.Run("bash", Path.Combine(ServerProcess.Root, "scripts", "pg.sh"), "stop", _directory);
        Directory.Delete(_directory, recursive: true);
    }
}
