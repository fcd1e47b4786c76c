using System.Diagnostics;
using System.Globalization;

namespace Presence.Bench;

/// <summary>
/// Each scenario starts what it needs on 127.0.0.1, drives it with wrk and prints a table. Ratios compare runs of
/// the same scenario made in the same invocation, interleaved (reference, ours, reference, ours), because absolute
/// numbers drift from run to run on a shared machine.
/// </summary>
public static class Scenarios
{
    public static readonly IReadOnlyDictionary<string, Func<BenchSettings, Task<int>>> All = new Dictionary<string, Func<BenchSettings, Task<int>>>
    {
        ["baseline"] = Baseline,
        ["update"] = s => AgainstBaseline(s, "update", scripts => scripts.Update, target: 0.6, p99TargetMs: 10, roundFloor: 0.5, method: "PUT"),
        ["read"] = s => AgainstBaseline(s, "read", scripts => scripts.Read, target: 0.8, p99TargetMs: null),
        ["postgres"] = Postgres,
        ["list"] = s => AgainstBaseline(s, "list", scripts => scripts.List, target: null, p99TargetMs: 20),
        ["memory"] = MemoryScenario.Run,
        ["fanout"] = Fanout.Run,
        ["channel"] = ChannelScenario.Run,
        ["tenants"] = TenantsScenario.Run,
        ["compare"] = Compare,
    };

    private static async Task<int> Baseline(BenchSettings settings)
    {
        Wrk.Require();
        var scripts = await Prepare(settings);
        using var baseline = await StartBaseline();
        var table = new Table("baseline: bare Kestrel minimal API, no auth, no Orleans");
        table.Add("update (PUT)", await Wrk.Run(baseline.Url, scripts.Update, settings.Seconds, settings.Connections), baseline.ResidentMiB());
        table.Add("read (GET)", await Wrk.Run(baseline.Url, scripts.Read, settings.Seconds, settings.Connections), baseline.ResidentMiB());
        table.Print();
        return 0;
    }

    /// <summary>
    /// Interleaved rounds of the bare Kestrel reference and the gateway. A target holds when the mean ratio reaches
    /// <paramref name="target"/>, no round falls below <paramref name="roundFloor"/> and no gateway round's p99 reaches
    /// <paramref name="p99TargetMs"/>; the last line says whether this run met it. Each gateway round also says what
    /// share of its requests took over 5 and 10 ms inside the gateway (<see cref="ServerLatency"/>).
    /// </summary>
    private static async Task<int> AgainstBaseline(BenchSettings settings, string name, Func<LoadScripts, string> script, double? target, double? p99TargetMs, double? roundFloor = null, string method = "GET")
    {
        Wrk.Require();
        var scripts = await Prepare(settings);
        using var baseline = await StartBaseline();
        using var gateway = await StartGateway(new Dictionary<string, string>());
        await Warm(gateway.Url, scripts, settings);
        // The reference is warmed too, or its first run would include its JIT's warm-up and flatter the ratio.
        await Wrk.Run(baseline.Url, script(scripts), 5, settings.Connections);

        var table = new Table($"{name}: {settings.Users:N0} users, {settings.Connections} connections, {settings.Seconds} s per run");
        var ratios = new List<double>();
        var p99s = new List<double>();
        for (var round = 1; round <= settings.Rounds; round++)
        {
            var (reference, referenceCpu) = await Measured(baseline, script(scripts), settings);
            table.Add($"baseline #{round}", reference, baseline.ResidentMiB(), note: CpuNote(referenceCpu));
            var inServer = await ServerLatency.Scrape(gateway.Url, method);
            var (ours, oursCpu) = await Measured(gateway, script(scripts), settings);
            var ratio = ours.RequestsPerSecond / reference.RequestsPerSecond;
            ratios.Add(ratio);
            p99s.Add(ours.P99Ms);
            table.Add($"gateway #{round}", ours, gateway.ResidentMiB(), ratio, $"{CpuNote(oursCpu)}; {(await ServerLatency.Scrape(gateway.Url, method)).Since(inServer)}");
        }
        table.Print();
        var targets = new List<string>();
        var met = true;
        if (target is { } t)
        {
            targets.Add($"mean >= {t:F2}");
            met &= ratios.Average() >= t;
        }
        if (roundFloor is { } floor)
        {
            targets.Add($"no round < {floor:F2}");
            met &= ratios.Min() >= floor;
        }
        if (p99TargetMs is { } p99)
        {
            targets.Add($"p99 < {p99} ms");
            met &= p99s.Max() < p99;
        }
        Console.WriteLine($"{name}: ratio to baseline {ratios.Average():F2}, mean of {ratios.Count} interleaved pairs (rounds {ratios.Min():F2}-{ratios.Max():F2}), gateway p99 up to {p99s.Max():F1} ms"
            + (targets.Count > 0 ? $"; target {string.Join(", ", targets)}: {(met ? "met" : "not met")}" : ""));
        return 0;
    }

    /// <summary>
    /// A wrk run against <paramref name="server"/>, with the server's CPU time per request over it (user and system,
    /// from /proc): what a request costs the server, apart from how the box's 2 cores were shared with wrk.
    /// </summary>
    private static async Task<(WrkResult Result, double CpuMicros)> Measured(ServerProcess server, string script, BenchSettings settings)
    {
        var before = server.CpuTime;
        var result = await Wrk.Run(server.Url, script, settings.Seconds, settings.Connections);
        return (result, ServerProcess.MicrosPer(server.CpuTime - before, result.Requests));
    }

    private static string CpuNote(double micros) => $"CPU {micros.ToString("F0", CultureInfo.InvariantCulture)} µs/req";

    /// <summary>update against the PostgreSQL-backed cluster, interleaved with the in-memory gateway; storage writes per update.</summary>
    private static async Task<int> Postgres(BenchSettings settings)
    {
        Wrk.Require();
        var scripts = await Prepare(settings);
        await using var cluster = await BenchCluster.Start(new Dictionary<string, string>());
        using var memory = await StartGateway(new Dictionary<string, string>());
        await Warm(cluster.Gateway.Url, scripts, settings);
        await Warm(memory.Url, scripts, settings);

        var table = new Table($"postgres: update over {settings.Users:N0} users, in-memory vs PostgreSQL-backed (1 silo + 1 gateway)");
        var ratios = new List<double>();
        long totalWrites = 0, totalUpdates = 0;
        for (var round = 1; round <= settings.Rounds; round++)
        {
            var reference = await Wrk.Run(memory.Url, scripts.Update, settings.Seconds, settings.Connections);
            table.Add($"in-memory #{round}", reference, memory.ResidentMiB());
            var before = await cluster.StorageWrites();
            var walBefore = await cluster.WalBytes();
            var cpu = cluster.CpuTimes();
            var ours = await Wrk.Run(cluster.Gateway.Url, scripts.Update, settings.Seconds, settings.Connections);
            var writes = await cluster.StorageWrites() - before;
            var wal = await cluster.WalBytes() - walBefore;
            var perUpdate = BenchCluster.PerRequest(cpu, cluster.CpuTimes(), ours.Requests);
            totalWrites += writes;
            totalUpdates += ours.Requests;
            ratios.Add(ours.RequestsPerSecond / reference.RequestsPerSecond);
            table.Add($"postgres #{round}", ours, cluster.Gateway.ResidentMiB(), ratios[^1], $"{(double)writes / ours.Requests:F3} writes/update, {wal / Math.Max(1, ours.Requests):N0} B of WAL; {perUpdate}");
        }
        table.Print();
        Console.WriteLine(await cluster.RowUpdates());
        Console.WriteLine($"postgres: ratio to in-memory {ratios.Average():F2} (target >= 0.50); storage writes per update {(double)totalWrites / totalUpdates:F3} ({totalWrites:N0} writes for {totalUpdates:N0} updates: grain states and index shards' group commits; refreshes of an unchanged status are coalesced)");
        return 0;
    }

    public static async Task BuildServers()
    {
        Console.Error.WriteLine("building Gateway and Silo (Release)...");
        // Both: the gateway does not reference the silo, and the PostgreSQL scenarios start Silo.dll (for its
        // migrations, then as the cluster's silo), which a clean clone has not built yet.
        foreach (var project in new[] { "Gateway", "Silo" })
        {
            await Run("dotnet", ["build", "-c", "Release", "-v", "q", "-nologo", Path.Combine(ServerProcess.Root, project, project + ".csproj")], new Dictionary<string, string>());
        }
    }

    /// <summary>
    /// Two gateways side by side, started together and driven in turn by the same load: A and B differ by their
    /// environment (<c>--a-env</c>, <c>--b-env</c>) or their build (<c>--a-dll</c>, <c>--b-dll</c>, e.g. a copy of
    /// Gateway/bin/Release/net10.0 made before a change). On a machine whose speed drifts from one minute to the next,
    /// a change shows only this way: each round's A and B run a few seconds apart.
    /// </summary>
    private static async Task<int> Compare(BenchSettings settings)
    {
        Wrk.Require();
        var scripts = await Prepare(settings);
        var script = settings.Script switch
        {
            "update" => scripts.Update,
            "read" => scripts.Read,
            "list" => scripts.List,
            var other => throw new ArgumentException($"--script {other}: expected update, read or list"),
        };
        using var a = await StartGateway(new Dictionary<string, string>(settings.AEnvironment), settings.ADll);
        using var b = await StartGateway(new Dictionary<string, string>(settings.BEnvironment), settings.BDll);
        await Warm(a.Url, scripts, settings);
        await Warm(b.Url, scripts, settings);

        static string Describe(IReadOnlyDictionary<string, string> environment, string? dll)
            => string.Join(" ", environment.Select(v => $"{v.Key}={v.Value}").Append(dll ?? "this tree's build"));
        var table = new Table($"compare ({settings.Script}): A = {Describe(settings.AEnvironment, settings.ADll)}; B = {Describe(settings.BEnvironment, settings.BDll)}");
        var (cpuA, cpuB) = (new List<double>(), new List<double>());
        var (requestsA, requestsB) = (new List<double>(), new List<double>());
        for (var round = 1; round <= settings.Rounds; round++)
        {
            foreach (var (name, server, cpu, rates) in new[] { ("A", a, cpuA, requestsA), ("B", b, cpuB, requestsB) })
            {
                var (result, micros) = await Measured(server, script, settings);
                cpu.Add(micros);
                rates.Add(result.RequestsPerSecond);
                table.Add($"{name} #{round}", result, server.ResidentMiB(), note: CpuNote(micros));
            }
        }
        table.Print();
        var better = cpuA.Zip(cpuB).Count(pair => pair.Second < pair.First);
        Console.WriteLine($"compare: CPU per request A {cpuA.Average():F1} µs, B {cpuB.Average():F1} µs (B/A {cpuB.Average() / cpuA.Average():F2}; B cheaper in {better} of {cpuA.Count} rounds); req/s A {requestsA.Average():N0}, B {requestsB.Average():N0}");
        return 0;
    }

    private static async Task<LoadScripts> Prepare(BenchSettings settings)
    {
        await BuildServers();
        Console.Error.WriteLine($"minting {settings.Users:N0} tokens...");
        return LoadScripts.Create(settings.Users);
    }

    /// <summary>
    /// Brings every user online (a first update activates a grain and inserts its row, at a fraction of the steady
    /// rate, hence a generous duration), then lets the JIT settle, before anything is measured.
    /// </summary>
    private static async Task Warm(Uri target, LoadScripts scripts, BenchSettings settings)
    {
        Console.Error.WriteLine($"warming {target}...");
        await Wrk.Run(target, scripts.Update, Math.Max(10, settings.Users / 1500), settings.Connections);
        await Wrk.Run(target, scripts.Read, 5, settings.Connections);
    }

    private static Task<ServerProcess> StartBaseline()
        => ServerProcess.Start(typeof(Scenarios).Assembly.Location, ["serve-baseline"], new Dictionary<string, string>(), "/v1/users/x/presence");

    /// <summary>
    /// The gateway (co-hosting a silo unless <paramref name="extra"/> points it at PostgreSQL). DOTNET_* and
    /// Presence__* variables of the bench's own environment pass through, so settings can be compared:
    /// DOTNET_gcServer=0 dotnet run ...
    /// </summary>
    public static Task<ServerProcess> StartGateway(IDictionary<string, string> extra, string? dll = null)
    {
        var environment = new Dictionary<string, string>(extra);
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("Presence__", StringComparison.Ordinal)))
        {
            environment.TryAdd(key, Environment.GetEnvironmentVariable(key)!);
        }
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Presence__Auth__SigningKey"] = LoadScripts.SigningKey,
            ["Presence__Silo__SiloPort"] = ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Presence__Silo__GatewayPort"] = ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
        })
        {
            environment[key] = value;
        }
        dll ??= ServerProcess.Dll("Gateway");
        return ServerProcess.Start(dll, ["--contentRoot", Path.GetDirectoryName(dll)!], environment, "/health/ready");
    }

    internal static Process StartSilo(IDictionary<string, string> cluster)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(ServerProcess.Dll("Silo"));
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Presence__Silo__SiloPort"] = ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        start.Environment["Presence__Silo__GatewayPort"] = ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        foreach (var (key, value) in cluster)
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>A child process that is killed, not just released, when disposed.</summary>
    internal sealed class Owned(Process process) : IDisposable
    {
        public TimeSpan CpuTime => ServerProcess.CpuTimeOf(process);

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            process.Dispose();
        }
    }

    internal static Task<string> Run(string file, params string[] args) => Run(file, args, new Dictionary<string, string>());

    internal static async Task<string> Run(string file, string[] args, IDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {await error}{await output}");
        }
        return await output;
    }
}
