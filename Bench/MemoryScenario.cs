using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;

namespace Presence.Bench;

/// <summary>
/// memory: brings N users (a million by default) online on one silo, each with a status and a TTL, through an app's
/// admin token; reports the update rate sustained meanwhile, then, once idle user grains have been collected, the
/// resident memory and managed heap after a full compacting GC, per online user.
/// </summary>
public static class MemoryScenario
{
    private static readonly string[] Statuses = ["online", "away", "busy", "in a meeting"];

    public static async Task<int> Run(BenchSettings settings)
    {
        var users = settings.UsersGiven ? settings.Users : 1_000_000;
        await Scenarios.BuildServers();
        using var gateway = await StartGateway();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = gateway.Url, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LoadScripts.Token("bench-app", admin: true));
        var empty = await Collect(http, null);

        Console.Error.WriteLine($"memory: bringing {users:N0} users online...");
        var next = -1;
        var clock = Stopwatch.StartNew();
        var progress = Task.Run(async () =>
        {
            while (Volatile.Read(ref next) < users)
            {
                await Task.Delay(10_000);
                Console.Error.WriteLine($"  {Math.Min(users, Volatile.Read(ref next)):N0} after {clock.Elapsed.TotalSeconds:F0} s");
            }
        });
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < users; i = Interlocked.Increment(ref next))
            {
                using var body = new StringContent("presence=" + Uri.EscapeDataString(Statuses[i % Statuses.Length]), Encoding.UTF8, "application/x-www-form-urlencoded");
                using var response = await http.PutAsync($"/v1/users/u{i}/presence", body);
                response.EnsureSuccessStatusCode();
            }
        })));
        var rate = users / clock.Elapsed.TotalSeconds;
        await progress;
        var online = await Metric(http, "presence_online_users");
        Console.Error.WriteLine($"memory: {online:N0} online; {rate:N0} updates/s; waiting for idle user grains to be collected...");

        var waited = Stopwatch.StartNew();
        double activations;
        while ((activations = await Metric(http, "orleans_catalog_activations")) > users / 100.0 && waited.Elapsed < TimeSpan.FromMinutes(8))
        {
            await Task.Delay(15_000);
            Console.Error.WriteLine($"  {activations:N0} activations after {waited.Elapsed.TotalSeconds:F0} s");
        }
        var full = await Collect(http, null);

        Console.WriteLine();
        Console.WriteLine($"memory: {users:N0} users online on one silo (co-hosted gateway, in-memory storage), target < 2 KB per online user");
        Console.WriteLine("| figure | value |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| users online (index) | {online:N0} |");
        Console.WriteLine($"| updates/s while bringing them online | {rate:N0} |");
        Console.WriteLine($"| grain activations left | {activations:N0} |");
        Console.WriteLine($"| resident memory, empty / full | {empty.ResidentBytes / 1048576.0:N0} MiB / {full.ResidentBytes / 1048576.0:N0} MiB |");
        Console.WriteLine($"| managed heap after full GC, empty / full | {empty.ManagedHeapBytes / 1048576.0:N0} MiB / {full.ManagedHeapBytes / 1048576.0:N0} MiB |");
        Console.WriteLine($"| GC committed, empty / full | {empty.GcCommittedBytes / 1048576.0:N0} MiB / {full.GcCommittedBytes / 1048576.0:N0} MiB |");
        Console.WriteLine($"| resident memory per online user | {(full.ResidentBytes - empty.ResidentBytes) / (double)users:N0} B (whole process: {full.ResidentBytes / (double)users:N0} B) |");
        Console.WriteLine($"| managed heap per online user | {(full.ManagedHeapBytes - empty.ManagedHeapBytes) / (double)users:N0} B (whole heap: {full.ManagedHeapBytes / (double)users:N0} B) |");
        Console.WriteLine();
        return 0;
    }

    /// <summary>A gateway whose memory can be measured: /admin/gc for the bench's admin token, and nobody expiring meanwhile.</summary>
    /// <param name="extra">Settings of a scenario's own, on top of these.</param>
    public static Task<ServerProcess> StartGateway(IReadOnlyDictionary<string, string>? extra = null) => Scenarios.StartGateway(new Dictionary<string, string>(extra ?? new Dictionary<string, string>())
    {
        ["Presence__Diagnostics__Enabled"] = "true",
        ["Presence__Operators__Tenant"] = "default", // the bench's admin token may call /admin/gc
        ["Presence__Expiry__Default"] = "03:00:00", // nobody expires while this runs
        ["Logging__LogLevel__Default"] = "Warning",
    });

    /// <summary>POST /admin/gc: a full GC in the gateway, then its heap and resident memory (an admin token, if the client has none).</summary>
    public static async Task<Report> Collect(HttpClient http, string? adminToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/gc");
        if (adminToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        }
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<Report>())!;
    }

    /// <summary>A metric's value (summed over its series) from the gateway's /metrics.</summary>
    public static async Task<double> Metric(HttpClient http, string name)
    {
        var text = await http.GetStringAsync("/metrics");
        return text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is '{' or ' '))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    public sealed record Report(long ManagedHeapBytes, long ResidentBytes, long GcCommittedBytes);
}
