using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Presence.Bench;

/// <summary>
/// channel: a channel of 1,000 members and one of N (100,000 by default), grown by their members subscribing, 64
/// requests in flight. Subscribes are measured in a window at each size (rate, latency, and with <c>--postgres</c>
/// the write-ahead log and storage writes each costs); channel-presence PUTs and subscriber pages from random places
/// are measured on both channels in interleaved rounds (small, large, small, large), so both see the same process:
/// every per-channel operation should cost the same at both sizes. Ends with the memory per member (managed heap after
/// a full GC). Its own load generator: each subscribe needs its member's own token.
/// </summary>
public static class ChannelScenario
{
    private const int Small = 1_000;

    public static async Task<int> Run(BenchSettings settings)
    {
        var members = Math.Max(settings.Members, 2 * Small);
        // The subscribes measured at each size, from members who never called before (their tokens new to the gateway).
        var window = Math.Clamp(members / 20, 1_000, 5_000);
        await Scenarios.BuildServers();
        var gatewaySettings = new Dictionary<string, string>
        {
            ["Presence__Diagnostics__Enabled"] = "true",
            ["Presence__Operators__Tenant"] = "default", // the bench's admin token may call /admin/gc
            ["Presence__Expiry__Default"] = "03:00:00", // no channel presence expires while this runs
            ["Logging__LogLevel__Default"] = "Warning",
        };
        await using var cluster = settings.Postgres ? await BenchCluster.Start(gatewaySettings) : null;
        using var ownGateway = cluster is null ? await Scenarios.StartGateway(gatewaySettings) : null;
        var gateway = cluster?.Gateway ?? ownGateway!;

        Console.Error.WriteLine($"channel: minting {members + 2 * window + 2 * Small:N0} tokens...");
        var smallTokens = Tokens("s", Small + window);
        var largeTokens = Tokens("m", members + window);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Connections, PooledConnectionIdleTimeout = TimeSpan.FromHours(1) })
        {
            BaseAddress = gateway.Url,
            Timeout = TimeSpan.FromMinutes(5),
        };
        var admin = LoadScripts.Token("bench-app", admin: true);
        var empty = await MemoryScenario.Collect(http, admin);

        // A channel of its own, with members of its own, warms every path first (JIT, tiering, pools).
        Console.Error.WriteLine("channel: warming up...");
        var warm = new Load(http, "w", Tokens("w", Small), admin, settings.Connections, cluster, "warm");
        await warm.Subscribe(0, Small);
        await warm.Puts(3);
        await warm.Pages(Small, 3);

        var small = new Load(http, "s", smallTokens, admin, settings.Connections, cluster, "small");
        await small.Subscribe(0, Small);
        await MemoryScenario.Collect(http, admin); // each window starts from a collected heap, not amid the last phase's garbage
        var smallSubscribes = await small.SubscribeWindow(Small, window);
        var large = new Load(http, "m", largeTokens, admin, settings.Connections, cluster, "large");
        Console.Error.WriteLine($"channel: growing a channel to {members:N0} members...");
        var growing = await large.Subscribe(0, members, progress: true);
        await MemoryScenario.Collect(http, admin);
        var largeSubscribes = await large.SubscribeWindow(members, window);

        var (smallPuts, largePuts, smallPages, largePages) = (new Latencies(), new Latencies(), new Latencies(), new Latencies());
        for (var round = 0; round < settings.Rounds; round++)
        {
            await MemoryScenario.Collect(http, admin);
            await small.Puts(settings.Seconds, smallPuts);
            await large.Puts(settings.Seconds, largePuts);
            await small.Pages(Small + window, settings.Seconds, smallPages);
            await large.Pages(members + window, settings.Seconds, largePages);
        }
        var full = await MemoryScenario.Collect(http, admin);

        var mode = cluster is null ? "in-memory (co-hosted silo)" : "PostgreSQL (1 silo + 1 gateway)";
        var table = new Table(
            $"channel: channels of {Small:N0} and {members:N0} members, {settings.Connections} requests in flight, {mode}; PUTs and pages in {settings.Rounds} interleaved rounds of {settings.Seconds} s",
            ["channel", "subscribes/s", "subscribe p50 ms", "subscribe p99 ms", "WAL B/subscribe", "writes/subscribe", "channel PUTs/s", "PUT p99 ms", "pages/s", "page p99 ms"]);
        foreach (var (size, subscribes, puts, pages) in new[] { (Small, smallSubscribes, smallPuts.Summary(), smallPages.Summary()), (members, largeSubscribes, largePuts.Summary(), largePages.Summary()) })
        {
            table.AddRow($"{size:N0} members", N(subscribes.Latency.PerSecond), F(subscribes.Latency.P50), F(subscribes.Latency.P99),
                subscribes.WalBytes is { } wal ? N(wal) : "-", subscribes.Writes?.ToString("F2", CultureInfo.InvariantCulture) ?? "-",
                N(puts.PerSecond), F(puts.P99), N(pages.PerSecond), F(pages.P99));
        }
        table.Print();
        Console.WriteLine($"channel: subscribe rate at {members:N0} / at {Small:N0}: {largeSubscribes.Latency.PerSecond / smallSubscribes.Latency.PerSecond:F2} (target >= 0.80); "
            + $"subscribe p99 at {members:N0}: {F(largeSubscribes.Latency.P99)} ms (target < 50); {N(largeSubscribes.Latency.PerSecond)} subscribes/s (target >= 2,000 in memory)");
        Console.WriteLine($"channel: p99 at {members:N0} / at {Small:N0}: channel PUT {largePuts.Summary().P99 / smallPuts.Summary().P99:F2}, subscriber page {largePages.Summary().P99 / smallPages.Summary().P99:F2} (target <= 1.25)");
        var all = Small + window + members + window;
        Console.WriteLine($"channel: grew at {N(growing)} subscribes/s; managed heap after a full GC {empty.ManagedHeapBytes / 1048576.0:N0} MiB empty, {full.ManagedHeapBytes / 1048576.0:N0} MiB with {all:N0} members: "
            + $"{(full.ManagedHeapBytes - empty.ManagedHeapBytes) / (double)all:N0} B per member; resident {(full.ResidentBytes - empty.ResidentBytes) / (double)all:N0} B per member "
            + "(both include the gateway's cache of validated tokens: at most 100,000, one per member who called)");
        return 0;
    }

    private static string[] Tokens(string prefix, int count)
    {
        var tokens = new string[count];
        Parallel.For(0, count, i => tokens[i] = LoadScripts.Token($"{prefix}{i}"));
        return tokens;
    }

    private static string F(double ms) => ms.ToString("F2", CultureInfo.InvariantCulture);

    private static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>One channel's load: its members (prefix and index, each with its own token) subscribe, set presence, and page.</summary>
    private sealed class Load(HttpClient http, string prefix, string[] tokens, string admin, int connections, BenchCluster? cluster, string channel)
    {
        /// <summary>Members <paramref name="from"/> to <paramref name="to"/> (exclusive) subscribe; returns the rate.</summary>
        public async Task<double> Subscribe(int from, int to, bool progress = false, Latencies? latencies = null)
        {
            var next = from - 1;
            var clock = Stopwatch.StartNew();
            using var done = new CancellationTokenSource();
            var reporter = progress ? Task.Run(async () =>
            {
                while (!done.IsCancellationRequested)
                {
                    await Task.Delay(10_000, done.Token).ContinueWith(_ => { });
                    Console.Error.WriteLine($"  {Math.Min(to, Volatile.Read(ref next)):N0} members after {clock.Elapsed.TotalSeconds:F0} s");
                }
            }) : Task.CompletedTask;
            await Workers(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < to; i = Interlocked.Increment(ref next))
                {
                    await Timed(latencies, () => Send(HttpMethod.Put, $"/v1/channels/{channel}/subscribe", tokens[i], null));
                }
            });
            latencies?.Measured(clock.Elapsed);
            await done.CancelAsync();
            await reporter;
            return (to - from) / clock.Elapsed.TotalSeconds;
        }

        /// <summary>Subscribes of <paramref name="window"/> new members at the channel's current size, with what each writes.</summary>
        public async Task<SubscribeWindow> SubscribeWindow(int size, int window)
        {
            var latencies = new Latencies();
            var (wal, writes) = cluster is null ? (0L, 0L) : (await cluster.WalBytes(), await cluster.StorageWrites());
            await Subscribe(size, size + window, latencies: latencies);
            return cluster is null
                ? new SubscribeWindow(latencies.Summary(), null, null)
                : new SubscribeWindow(latencies.Summary(), (await cluster.WalBytes() - wal) / (double)window, (await cluster.StorageWrites() - writes) / (double)window);
        }

        /// <summary>
        /// Channel-presence PUTs for <paramref name="seconds"/> (a second unmeasured first), by the channel's first 1,000
        /// members at every size: they measure the channel, not how many user grains a pick among all members activates.
        /// </summary>
        public async Task Puts(int seconds, Latencies? latencies = null)
        {
            Task Put(Random random) => Send(HttpMethod.Put, $"/v1/users/{Member(random.Next(Small))}/presence/channels/{channel}", admin, $"presence=s{random.Next(4)}");
            await ForSeconds(1, Put);
            await ForSeconds(seconds, random => Timed(latencies, () => Put(random)), latencies);
        }

        /// <summary>Subscriber pages of 100 from random places among the first <paramref name="members"/>, for <paramref name="seconds"/>.</summary>
        public async Task Pages(int members, int seconds, Latencies? latencies = null)
        {
            Task Page(Random random) => Send(HttpMethod.Get, $"/v1/channels/{channel}/subscribers?count=100&before_id={Cursor(Member(random.Next(members)))}", admin, null);
            await ForSeconds(1, Page);
            await ForSeconds(seconds, random => Timed(latencies, () => Page(random)), latencies);
        }

        private string Member(int index) => prefix + index.ToString(CultureInfo.InvariantCulture);

        private async Task ForSeconds(int seconds, Func<Random, Task> request, Latencies? latencies = null)
        {
            var clock = Stopwatch.StartNew();
            var until = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
            await Workers(async () =>
            {
                var random = new Random();
                while (Stopwatch.GetTimestamp() < until)
                {
                    await request(random);
                }
            });
            latencies?.Measured(clock.Elapsed);
        }

        private Task Workers(Func<Task> work) => Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(work)));

        private static async Task Timed(Latencies? latencies, Func<Task> request)
        {
            var started = Stopwatch.GetTimestamp();
            await request();
            latencies?.Add(Stopwatch.GetElapsedTime(started));
        }

        private async Task Send(HttpMethod method, string path, string token, string? form)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (form is not null)
            {
                request.Content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded");
            }
            using var response = await http.SendAsync(request);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        /// <summary>pnut's before_id for a subscriber page: the id to start after, base64url.</summary>
        private static string Cursor(string userId) => Convert.ToBase64String(Encoding.UTF8.GetBytes(userId)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>Latencies of requests, and their rate over the time they were measured.</summary>
    private sealed class Latencies
    {
        private readonly ConcurrentQueue<double> _ms = new();
        private TimeSpan _measured;

        public void Add(TimeSpan latency) => _ms.Enqueue(latency.TotalMilliseconds);

        public void Measured(TimeSpan duration) => _measured += duration;

        public Summary Summary()
        {
            var sorted = _ms.Order().ToArray();
            double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
            return new Summary(sorted.Length / _measured.TotalSeconds, At(0.5), At(0.99));
        }
    }

    private sealed record Summary(double PerSecond, double P50, double P99);

    private sealed record SubscribeWindow(Summary Latency, double? WalBytes, double? Writes);
}
