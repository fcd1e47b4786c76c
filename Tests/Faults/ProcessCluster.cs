using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Presence.Hosting;
using Presence.Tests.Support;

namespace Presence.Tests.Faults;

/// <summary>
/// The production topology as real processes on 127.0.0.1: Silo and Gateway programs (as built next to this test
/// assembly) sharing one PostgreSQL database. Ports are chosen once, so a restarted process comes back on the same
/// address, as it would under an orchestrator.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    public const string SigningKey = "fault-test-signing-key-0123456789-abcdefgh";

    private readonly string _connectionString;
    private readonly string _clusterId = $"f{Guid.NewGuid():N}"[..12];
    private readonly string _logs = Directory.CreateTempSubdirectory("presence-faults-").FullName;
    private readonly (int Silo, int Gateway)[] _siloPorts;
    private readonly int[] _httpPorts;
    private readonly Process?[] _silos;
    private readonly Process?[] _gateways;

    private readonly (string Key, string Value)[] _gatewaySettings;

    /// <param name="gatewaySettings">Environment variables for every gateway (e.g. shorter realtime timings).</param>
    public ProcessCluster(string connectionString, int silos, int gateways, params (string Key, string Value)[] gatewaySettings)
    {
        _connectionString = connectionString;
        _gatewaySettings = gatewaySettings;
        _siloPorts = [.. Enumerable.Range(0, silos).Select(_ => (TestEnvironment.FreePort(), TestEnvironment.FreePort()))];
        _httpPorts = [.. Enumerable.Range(0, gateways).Select(_ => TestEnvironment.FreePort())];
        _silos = new Process?[silos];
        _gateways = new Process?[gateways];
    }

    /// <summary>Environment variables for every silo (e.g. a smaller split size of index nodes).</summary>
    public (string Key, string Value)[] SiloSettings { get; init; } = [];

    public Uri Gateway(int index) => new($"http://127.0.0.1:{_httpPorts[index]}");

    public void StartSilo(int index) => _silos[index] = Start("Silo", $"silo{index}", [],
        [("Presence__Silo__SiloPort", _siloPorts[index].Silo.ToString()), ("Presence__Silo__GatewayPort", _siloPorts[index].Gateway.ToString()), .. SiloSettings]);

    public void StartGateway(int index) => _gateways[index] = Start("Gateway", $"gateway{index}",
        ["--urls", Gateway(index).ToString().TrimEnd('/'), "--contentRoot", TestEnvironment.BinDirectory("Gateway")], _gatewaySettings);

    /// <summary>SIGKILL of one gateway: its streams vanish without a close.</summary>
    public void KillGateway(int index) => Kill(ref _gateways[index]);

    public void StartAll()
    {
        for (var i = 0; i < _silos.Length; i++)
        {
            StartSilo(i);
        }
        for (var i = 0; i < _gateways.Length; i++)
        {
            StartGateway(i);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, exactly like a crash.</summary>
    public void KillSilo(int index) => Kill(ref _silos[index]);

    /// <summary>SIGTERM, as an orchestrator stops a silo: it deactivates its grains, then exits.</summary>
    public async Task StopSilo(int index, TimeSpan timeout)
    {
        var process = _silos[index] ?? throw new InvalidOperationException($"silo {index} is not running");
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var wait = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(wait.Token);
        process.Dispose();
        _silos[index] = null;
    }

    /// <summary>An Orleans client of the cluster, as a gateway is one (for the management grain).</summary>
    public async Task<IHost> Client()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:presence"] = _connectionString,
            ["Presence:Silo:ClusterId"] = _clusterId,
            ["Presence:Silo:ServiceId"] = _clusterId,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client => client.AddPresenceClient(PresenceClusterOptions.From(builder.Configuration)));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>The silo (by index) with the most activations of <paramref name="grainType"/>, and how many it has of each silo's.</summary>
    public async Task<(int Silo, int[] Counts)> SiloWithMost(IHost client, string grainType)
    {
        var management = client.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
        var statistics = await management.GetDetailedGrainStatistics();
        var counts = new int[_silos.Length];
        foreach (var statistic in statistics.Where(s => s.GrainId.Type.ToString() == grainType))
        {
            var silo = Array.FindIndex(_siloPorts, p => p.Silo == statistic.SiloAddress.Endpoint.Port);
            if (silo >= 0)
            {
                counts[silo]++;
            }
        }
        return (Array.IndexOf(counts, counts.Max()), counts);
    }

    public void KillAll()
    {
        for (var i = 0; i < _gateways.Length; i++)
        {
            Kill(ref _gateways[i]);
        }
        for (var i = 0; i < _silos.Length; i++)
        {
            Kill(ref _silos[i]);
        }
    }

    /// <summary>Waits until every gateway answers /health/ready; returns how long that took.</summary>
    public async Task<TimeSpan> WaitReady(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var port in _httpPorts)
        {
            while (true)
            {
                try
                {
                    if ((await http.GetAsync($"http://127.0.0.1:{port}/health/ready")).IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
                {
                }
                if (clock.Elapsed > timeout)
                {
                    throw new TimeoutException($"gateway on {port} not ready after {timeout}; logs:\n{Logs()}");
                }
                await Task.Delay(250);
            }
        }
        return clock.Elapsed;
    }

    /// <summary>The tail of every process log, for a failing test's message.</summary>
    public string Logs() => string.Join("\n", Directory.GetFiles(_logs).Select(f =>
        $"== {Path.GetFileName(f)}\n{string.Join("\n", File.ReadLines(f).TakeLast(15))}"));

    public ValueTask DisposeAsync()
    {
        KillAll();
        return ValueTask.CompletedTask;
    }

    private Process Start(string program, string name, string[] args, params (string Key, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = TestEnvironment.BinDirectory(program),
        };
        start.ArgumentList.Add(Path.Combine(TestEnvironment.BinDirectory(program), program + ".dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["ConnectionStrings__presence"] = _connectionString;
        start.Environment["Presence__Silo__ClusterId"] = _clusterId;
        start.Environment["Presence__Silo__ServiceId"] = _clusterId;
        start.Environment["Presence__Auth__SigningKey"] = SigningKey;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(_logs, $"{name}-{process.Id}.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (log)
        {
            log.WriteLine(line);
        }
    }

    private static void Kill(ref Process? process)
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        process?.Dispose();
        process = null;
    }
}
