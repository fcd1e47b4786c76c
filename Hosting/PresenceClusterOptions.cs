using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Presence.Hosting;

/// <summary>
/// How a process joins the cluster: <c>Presence:Silo</c> (ports, ids, advertised address),
/// <c>Presence:Storage:Provider</c> (memory | postgres) and <c>ConnectionStrings:presence</c>.
/// </summary>
public sealed class PresenceClusterOptions
{
    public const string SiloSection = "Presence:Silo";
    public const string ConnectionStringName = "presence";
    public const string Invariant = "Npgsql";

    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;
    public string ClusterId { get; init; } = "presence";
    public string ServiceId { get; init; } = "presence";

    /// <summary>
    /// The address other silos and clients reach this silo at (PostgreSQL mode); "auto" takes this host's first
    /// IPv4 address that is not loopback (a container's own address).
    /// </summary>
    public string AdvertisedIP { get; init; } = "127.0.0.1";

    /// <summary><see cref="AdvertisedIP"/> resolved.</summary>
    public System.Net.IPAddress AdvertisedAddress => AdvertisedIP.Equals("auto", StringComparison.OrdinalIgnoreCase)
        ? System.Net.Dns.GetHostAddresses(System.Net.Dns.GetHostName())
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !System.Net.IPAddress.IsLoopback(a))
            ?? System.Net.IPAddress.Loopback
        : System.Net.IPAddress.Parse(AdvertisedIP);

    public string? ConnectionString { get; private set; }
    public bool UsesPostgres { get; private set; }

    /// <summary>
    /// <c>Presence:Dashboard:Enabled</c>: the Orleans dashboard collects its figures in every silo and client of the
    /// cluster, so each process of a cluster must agree (the gateway serves it, behind credentials).
    /// </summary>
    public bool DashboardEnabled { get; private set; }

    public static PresenceClusterOptions From(IConfiguration configuration)
    {
        var options = configuration.GetSection(SiloSection).Get<PresenceClusterOptions>() ?? new PresenceClusterOptions();
        options.ConnectionString = configuration.GetConnectionString(ConnectionStringName);
        var dashboard = configuration["Presence:Dashboard:Enabled"];
        options.DashboardEnabled = dashboard switch
        {
            null or "" => false,
            _ when bool.TryParse(dashboard, out var enabled) => enabled,
            _ => throw Invalid($"Presence:Dashboard:Enabled must be true or false (got '{dashboard}')."),
        };
        var provider = configuration["Presence:Storage:Provider"];
        options.UsesPostgres = provider switch
        {
            null or "" => !string.IsNullOrEmpty(options.ConnectionString),
            _ when provider.Equals("postgres", StringComparison.OrdinalIgnoreCase) => true,
            _ when provider.Equals("memory", StringComparison.OrdinalIgnoreCase) => false,
            _ => throw Invalid($"Presence:Storage:Provider must be 'memory' or 'postgres' (got '{provider}')."),
        };
        if (options.UsesPostgres && string.IsNullOrEmpty(options.ConnectionString))
        {
            throw Invalid("Presence:Storage:Provider is 'postgres' but ConnectionStrings:presence (env ConnectionStrings__presence) is not set.");
        }
        if (options.UsesPostgres)
        {
            options.ConnectionString = WithStatementReuse(options.ConnectionString!);
        }
        if (!options.AdvertisedIP.Equals("auto", StringComparison.OrdinalIgnoreCase) && !System.Net.IPAddress.TryParse(options.AdvertisedIP, out _))
        {
            throw Invalid($"{SiloSection}:AdvertisedIP must be an IP address or 'auto' (got '{options.AdvertisedIP}').");
        }
        return options;
    }

    /// <summary>
    /// The connection string with Npgsql's statement reuse on, unless it says otherwise: each pooled connection
    /// prepares the statements it runs often (<c>Max Auto Prepare</c>, <c>Auto Prepare Min Usages</c>), so PostgreSQL
    /// parses and plans a grain write once per connection instead of on every write, and hands a connection back to the
    /// pool without resetting its session (<c>No Reset On Close</c>; nothing here keeps session state: the migrator's
    /// lock is a transaction's).
    /// </summary>
    public static string WithStatementReuse(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder();
        try
        {
            given.ConnectionString = connectionString;
        }
        catch (ArgumentException error)
        {
            throw Invalid($"ConnectionStrings:presence is not a valid connection string: {error.Message}");
        }
        var keys = given.Keys.Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in new[] { ("Max Auto Prepare", "32"), ("Auto Prepare Min Usages", "2"), ("No Reset On Close", "true") })
        {
            if (!keys.Contains(key.Replace(" ", "", StringComparison.Ordinal)))
            {
                given[key] = value;
            }
        }
        return given.ConnectionString;
    }

    /// <summary>
    /// Membership settings for a cluster that must come back quickly after every process was killed. A dead silo's
    /// row counts as stale after 2 missed 10 s heartbeats (not 3 x 30 s), stale rows are noticed within 5 s (not 60 s)
    /// and declared dead after 2 failed 2 s probes; a silo restarted on the same address and port replaces its old
    /// row at once.
    /// </summary>
    public static void FastRecovery(ClusterMembershipOptions membership)
    {
        membership.ProbeTimeout = TimeSpan.FromSeconds(2);
        membership.NumMissedProbesLimit = 2;
        membership.NumProbedSilos = 2;
        membership.NumVotesForDeathDeclaration = 1;
        membership.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
        membership.NumMissedTableIAmAliveLimit = 2;
        membership.TableRefreshTimeout = TimeSpan.FromSeconds(5);
    }

    /// <summary>
    /// How long a grain call may go unanswered: shorter than Orleans' 30 s, so a call to a silo that just died fails
    /// (and is retried by the gateway) well within an HTTP client's patience.
    /// </summary>
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    private static OptionsValidationException Invalid(string message)
        => new("Presence", typeof(PresenceClusterOptions), [message]);
}
