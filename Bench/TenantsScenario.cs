using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Presence.Bench;

/// <summary>
/// tenants: N small tenants (<c>--tenants</c>, 2,000) of three users each on one silo, against the same 3×N users in one
/// tenant on a fresh gateway: each user goes online once with its own token, then each tenant lists itself once and
/// must list exactly its users. Reports what a tenant costs beyond its users (resident memory and managed heap after a
/// full GC, the difference of the two runs per tenant), grain activations, and the CPU each gateway burns idle for 30 s
/// afterwards; then the same once idle activations have had time to go (<c>--settle</c>, 5 minutes: an idle index node
/// goes after a gateway watch's lifetime, 3 minutes, collection runs every minute, and collecting hundreds of thousands
/// of activations takes a while more), over two minutes: that is the figure the target is about, and over 30 s it
/// swings by a few tenths of a percent from one run to the next.
/// </summary>
public static class TenantsScenario
{
    private const int UsersPerTenant = 3;
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SettledIdle = TimeSpan.FromMinutes(2);

    public static async Task<int> Run(BenchSettings settings)
    {
        var tenants = settings.Tenants;
        await Scenarios.BuildServers();
        var settle = TimeSpan.FromMinutes(Math.Max(settings.SettleMinutes, 1));
        var one = await Measure("one tenant", 1, tenants * UsersPerTenant, settle);
        var many = await Measure($"{tenants:N0} tenants", tenants, UsersPerTenant, settle);

        Console.WriteLine();
        Console.WriteLine($"tenants: {tenants:N0} tenants of {UsersPerTenant} users against one tenant of {tenants * UsersPerTenant:N0}, one silo (co-hosted gateway, in-memory storage); target < 4 KB per tenant beyond its users, idle CPU < 2 % of a core");
        Console.WriteLine("| run | resident MiB (empty / full) | heap MiB (empty / full) | grain activations | idle CPU, % of a core | lists correct |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var run in new[] { one, many, one with { Name = one.Name + ", settled", Full = one.Settled, Activations = one.SettledActivations, IdleCpu = one.SettledCpu },
            many with { Name = many.Name + ", settled", Full = many.Settled, Activations = many.SettledActivations, IdleCpu = many.SettledCpu } })
        {
            Console.WriteLine($"| {run.Name} | {run.Empty.ResidentBytes / 1048576.0:N0} / {run.Full.ResidentBytes / 1048576.0:N0} | {run.Empty.ManagedHeapBytes / 1048576.0:N0} / {run.Full.ManagedHeapBytes / 1048576.0:N0} | {run.Activations:N0} | {run.IdleCpu:P1} | {run.Correct:N0} of {run.Tenants:N0} |");
        }
        foreach (var (label, full) in new (string, Func<Result, MemoryScenario.Report>)[] { ("per tenant beyond its users", r => r.Full), ("per tenant beyond its users, settled", r => r.Settled) })
        {
            var resident = (Growth(many, full, r => r.ResidentBytes) - Growth(one, full, r => r.ResidentBytes)) / tenants;
            var heap = (Growth(many, full, r => r.ManagedHeapBytes) - Growth(one, full, r => r.ManagedHeapBytes)) / tenants;
            Console.WriteLine($"| {label} | {resident / 1024:N1} KiB | {heap / 1024:N1} KiB | | | |");
        }
        Console.WriteLine();
        return many.Correct == tenants && one.Correct == 1 ? 0 : 1;
    }

    private static double Growth(Result run, Func<Result, MemoryScenario.Report> full, Func<MemoryScenario.Report, long> figure) => figure(full(run)) - figure(run.Empty);

    private sealed record Result(string Name, int Tenants, MemoryScenario.Report Empty, MemoryScenario.Report Full, double Activations, double IdleCpu, int Correct,
        MemoryScenario.Report Settled, double SettledActivations, double SettledCpu);

    private static async Task<Result> Measure(string name, int tenants, int usersPerTenant, TimeSpan settle)
    {
        // Every user's token stays cached in both runs: a cache that starts over when full would leave the two runs
        // holding different numbers of tokens (up to 100,000, each with its claims), whatever the tenants cost.
        using var gateway = await MemoryScenario.StartGateway(new Dictionary<string, string>
        {
            ["Presence__Auth__TokenCacheCapacity"] = (tenants * usersPerTenant + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = gateway.Url, Timeout = TimeSpan.FromMinutes(5) };
        // The operators' admin token by default (/admin/gc, /metrics); each user's call carries its own.
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LoadScripts.Token("bench-admin", admin: true));
        var empty = await MemoryScenario.Collect(http, null);

        Console.Error.WriteLine($"tenants ({name}): bringing {tenants * usersPerTenant:N0} users online...");
        // One token per user, as a client keeps its own: the gateway caches each token it validated, a cost per session.
        var tokens = new string[tenants * usersPerTenant];
        var clock = Stopwatch.StartNew();
        await ForEach(tenants * usersPerTenant, async i =>
        {
            var tenant = TenantName(i / usersPerTenant);
            tokens[i] = LoadScripts.Token($"u{i}", tenant: tenant);
            using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/users/me/presence")
            {
                Content = new StringContent("presence=online", Encoding.UTF8, "application/x-www-form-urlencoded"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[i]);
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
        });
        var correct = 0;
        await ForEach(tenants, async t =>
        {
            var expected = Enumerable.Range(t * usersPerTenant, usersPerTenant).Select(i => $"u{i}").Order(StringComparer.Ordinal).ToList();
            var listed = new List<string>();
            string? before = null;
            do
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/presence?count=200" + (before is null ? "" : "&before_id=" + Uri.EscapeDataString(before)));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[t * usersPerTenant]); // its first user's own
                using var response = await http.SendAsync(request);
                response.EnsureSuccessStatusCode();
                using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                listed.AddRange(page.RootElement.GetProperty("data").EnumerateArray().Select(u => u.GetProperty("id").GetString()!));
                before = page.RootElement.GetProperty("meta").TryGetProperty("min_id", out var next) ? next.GetString() : null;
            }
            while (before is not null);
            if (listed.Order(StringComparer.Ordinal).SequenceEqual(expected))
            {
                Interlocked.Increment(ref correct);
            }
        });
        Console.Error.WriteLine($"tenants ({name}): online and listed in {clock.Elapsed.TotalSeconds:F0} s; {correct:N0} of {tenants:N0} lists correct; idle for {Idle.TotalSeconds:F0} s...");

        var cpuBefore = gateway.CpuTime;
        var idle = Stopwatch.StartNew();
        await Task.Delay(Idle);
        var idleCpu = (gateway.CpuTime - cpuBefore) / idle.Elapsed;
        var full = await MemoryScenario.Collect(http, null);
        var activations = await MemoryScenario.Metric(http, "orleans_catalog_activations");

        Console.Error.WriteLine($"tenants ({name}): {activations:N0} activations; settling for {settle.TotalMinutes:F0} minutes...");
        await Task.Delay(settle - Idle);
        Console.Error.WriteLine($"tenants ({name}): settled; idle for {SettledIdle.TotalSeconds:F0} s...");
        cpuBefore = gateway.CpuTime;
        idle.Restart();
        await Task.Delay(SettledIdle);
        var settledCpu = (gateway.CpuTime - cpuBefore) / idle.Elapsed;
        var settled = await MemoryScenario.Collect(http, null);
        var settledActivations = await MemoryScenario.Metric(http, "orleans_catalog_activations");
        return new Result(name, tenants, empty, full, activations, idleCpu, correct, settled, settledActivations, settledCpu);
    }

    private static string TenantName(int tenant) => string.Create(CultureInfo.InvariantCulture, $"app{tenant}");

    private static Task ForEach(int count, Func<int, Task> body)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                await body(i);
            }
        })));
    }
}
