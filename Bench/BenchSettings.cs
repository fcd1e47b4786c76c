using System.Globalization;

namespace Presence.Bench;

public sealed class BenchSettings
{
    public BenchSettings(string[] args)
    {
        for (var i = 0; i < args.Length; i += 2)
        {
            if (args[i] == "--postgres")
            {
                Postgres = true;
                i--;
                continue;
            }
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{args[i]} needs a value");
            }
            switch (args[i])
            {
                case "--a-env": AEnvironment = Variables(args[i + 1]); continue;
                case "--b-env": BEnvironment = Variables(args[i + 1]); continue;
                case "--a-dll": ADll = Path.GetFullPath(args[i + 1]); continue;
                case "--b-dll": BDll = Path.GetFullPath(args[i + 1]); continue;
                case "--script": Script = args[i + 1]; continue;
            }
            var value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--members": Members = value; break;
                case "--tenants": Tenants = value; break;
                case "--settle": SettleMinutes = value; break;
                case "--seconds": Seconds = value; break;
                case "--rounds": Rounds = value; break;
                case "--users": Users = value; UsersGiven = true; break;
                case "--connections": Connections = value; break;
                case "--watchers": Watchers = value; break;
                case "--changes": Changes = value; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
    }

    /// <summary>Length of one measured run.</summary>
    public int Seconds { get; } = 10;

    /// <summary>Interleaved pairs: reference, ours, reference, ours, ...</summary>
    public int Rounds { get; } = 2;

    public int Users { get; } = 100_000;

    /// <summary>Whether --users was given (the memory scenario defaults to a million).</summary>
    public bool UsersGiven { get; }
    public int Connections { get; } = 64;

    /// <summary>tenants: minutes to wait after the lists before the settled figures (5: idle grains have gone by then).</summary>
    public int SettleMinutes { get; } = 5;

    /// <summary>tenants: small tenants of three users each (the target is 100,000; today's layout needs about 257 KiB each).</summary>
    public int Tenants { get; } = 2_000;

    /// <summary>fanout: streams watching one channel, and member changes measured.</summary>
    public int Watchers { get; } = 10_000;
    public int Changes { get; } = 20;

    /// <summary>channel: members the one channel grows to.</summary>
    public int Members { get; } = 100_000;

    /// <summary>channel: against the PostgreSQL-backed cluster instead of the in-memory gateway.</summary>
    public bool Postgres { get; }

    /// <summary>compare: the two gateways' extra environment (<c>K=V;K=V</c>) and builds (a Gateway.dll; this tree's by default).</summary>
    public IReadOnlyDictionary<string, string> AEnvironment { get; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> BEnvironment { get; } = new Dictionary<string, string>();
    public string? ADll { get; }
    public string? BDll { get; }

    /// <summary>compare: which load drives both (update, read or list).</summary>
    public string Script { get; } = "update";

    private static Dictionary<string, string> Variables(string list)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=');
            if (equals <= 0)
            {
                throw new ArgumentException($"not a variable: {pair} (expected NAME=value)");
            }
            variables[pair[..equals]] = pair[(equals + 1)..];
        }
        return variables;
    }
}
