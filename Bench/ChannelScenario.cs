using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Presence.Bench;

/// <summary>
/// channel: one channel grows to N members (100,000 by default) by its members subscribing, 64 requests in flight.
/// At 1,000 members and again at N it measures a window of further subscribes (rate, latency, and with
/// <c>--postgres</c> the write-ahead log and storage writes each costs), channel-presence PUTs and subscriber pages
/// from random places: every per-channel operation should cost the same at both sizes. Ends with the memory per
/// member (managed heap after a full GC). Its own load generator: each subscribe needs its member's own token.
/// </summary>
public static class ChannelScenario
{
    private const string Channel = "big";
    private const int Small = 1_000;

    public static async Task<int> Run(BenchSettings settings)
    {
        var members = Math.Max(settings.Members, 2 * Small);
        // The subscribes measured at each size: at 1,000 members, then at the full size.
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

        var total = members + window;
        Console.Error.WriteLine($"channel: minting {total:N0} tokens...");
        var tokens = new string[total];
        Parallel.For(0, total, i => tokens[i] = LoadScripts.Token($"m{i}"));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Connections, PooledConnectionIdleTimeout = TimeSpan.FromHours(1) })
        {
            BaseAddress = gateway.Url,
            Timeout = TimeSpan.FromMinutes(5),
        };
        var admin = LoadScripts.Token("bench-app", admin: true);
        var empty = await MemoryScenario.Collect(http, admin);

        // A channel of its own warms every path first (JIT, tiering, pools): else the first size measured pays for it.
        Console.Error.WriteLine("channel: warming up...");
        // Its own members too: every subscribe measured is a member's first call (its token validated for the first time).
        var warmTokens = new string[Small + window];
        Parallel.For(0, warmTokens.Length, i => warmTokens[i] = LoadScripts.Token($"w{i}"));
        var warm = new Load(http, warmTokens, admin, settings.Connections, cluster, "warm");
        await warm.Subscribe(0, Small);
        await warm.Measure(Small, window, 3);
        var load = new Load(http, tokens, admin, settings.Connections, cluster, Channel);
        await load.Subscribe(0, Small);
        var small = await load.Measure(Small, window, settings.Seconds);
        Console.Error.WriteLine($"channel: growing to {members:N0} members...");
        var growing = await load.Subscribe(Small + window, members, progress: true);
        var large = await load.Measure(members, window, settings.Seconds);
        var full = await MemoryScenario.Collect(http, admin);

        var mode = cluster is null ? "in-memory (co-hosted silo)" : "PostgreSQL (1 silo + 1 gateway)";
        var table = new Table(
            $"channel: one channel grown to {members:N0} members, {settings.Connections} requests in flight, {mode}",
            ["at members", "subscribes/s", "subscribe p50 ms", "subscribe p99 ms", "channel PUTs/s", "PUT p99 ms", "pages/s", "page p99 ms", "WAL B/subscribe", "writes/subscribe"]);
        foreach (var (at, m) in new[] { (Small, small), (members, large) })
        {
            table.AddRow(at.ToString("N0", CultureInfo.InvariantCulture), m.Subscribes.PerSecond.ToString("N0", CultureInfo.InvariantCulture),
                F(m.Subscribes.P50), F(m.Subscribes.P99), m.Puts.PerSecond.ToString("N0", CultureInfo.InvariantCulture), F(m.Puts.P99),
                m.Pages.PerSecond.ToString("N0", CultureInfo.InvariantCulture), F(m.Pages.P99),
                m.WalBytesPerSubscribe?.ToString("N0", CultureInfo.InvariantCulture) ?? "-", m.WritesPerSubscribe?.ToString("F2", CultureInfo.InvariantCulture) ?? "-");
        }
        table.Print();
        Console.WriteLine($"channel: subscribe rate at {members:N0} / at {Small:N0}: {large.Subscribes.PerSecond / small.Subscribes.PerSecond:F2} (target >= 0.80); "
            + $"subscribe p99 at {members:N0}: {F(large.Subscribes.P99)} ms (target < 50); {large.Subscribes.PerSecond:N0} subscribes/s (target >= 2,000 in memory)");
        Console.WriteLine($"channel: p99 at {members:N0} / at {Small:N0}: channel PUT {large.Puts.P99 / small.Puts.P99:F2}, subscriber page {large.Pages.P99 / small.Pages.P99:F2} (target <= 1.25)");
        Console.WriteLine($"channel: grew at {growing:N0} subscribes/s; managed heap after a full GC {empty.ManagedHeapBytes / 1048576.0:N0} MiB empty, {full.ManagedHeapBytes / 1048576.0:N0} MiB full: "
            + $"{(full.ManagedHeapBytes - empty.ManagedHeapBytes) / (double)total:N0} B per member; resident {(full.ResidentBytes - empty.ResidentBytes) / (double)total:N0} B per member "
            + "(both include the gateway's cache of validated tokens, at most 100,000 of them, one per member who called)");
        return 0;
    }

    private static string F(double ms) => ms.ToString("F2", CultureInfo.InvariantCulture);

    private sealed class Load(HttpClient http, string[] tokens, string admin, int connections, BenchCluster? cluster, string channel)
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
            await done.CancelAsync();
            await reporter;
            return (to - from) / clock.Elapsed.TotalSeconds;
        }

        /// <summary>
        /// At the channel's current size: channel-presence PUTs, subscriber pages, then a window of subscribes. The PUTs
        /// come from the first 1,000 members at every size, so they measure the channel, not how many user grains a
        /// random pick out of the whole channel activates. A full GC first, and a second of each load unmeasured: the
        /// growth before must not be measured as the channel's cost.
        /// </summary>
        public async Task<Measurement> Measure(int size, int window, int seconds)
        {
            await MemoryScenario.Collect(http, admin);
            Task Put(Random random) => Send(HttpMethod.Put, $"/v1/users/m{random.Next(Small)}/presence/channels/{channel}", admin, $"presence=s{random.Next(4)}");
            Task Page(Random random) => Send(HttpMethod.Get, $"/v1/channels/{channel}/subscribers?count=100&before_id={Cursor($"m{random.Next(size)}")}", admin, null);
            await ForSeconds(1, Put);
            var puts = new Latencies();
            await ForSeconds(seconds, random => Timed(puts, () => Put(random)));
            await ForSeconds(1, Page);
            var pages = new Latencies();
            await ForSeconds(seconds, random => Timed(pages, () => Page(random)));
            var subscribes = new Latencies();
            var (wal, writes) = cluster is null ? (0L, 0L) : (await cluster.WalBytes(), await cluster.StorageWrites());
            await Subscribe(size, size + window, latencies: subscribes);
            double? walPer = cluster is null ? null : (await cluster.WalBytes() - wal) / (double)window;
            double? writesPer = cluster is null ? null : (await cluster.StorageWrites() - writes) / (double)window;
            return new Measurement(subscribes.Summary(), puts.Summary(), pages.Summary(), walPer, writesPer);
        }

        private async Task ForSeconds(int seconds, Func<Random, Task> request)
        {
            var until = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
            await Workers(async () =>
            {
                var random = new Random();
                while (Stopwatch.GetTimestamp() < until)
                {
                    await request(random);
                }
            });
        }

        private Task Workers(Func<Task> work) => Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(work)));

        private static async Task Timed(Latencies? latencies, Func<Task> request)
        {
            var started = Stopwatch.GetTimestamp();
            await request();
            latencies?.Add(started, Stopwatch.GetElapsedTime(started));
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

    /// <summary>Latencies of one run, and its rate from the first request to the last response.</summary>
    private sealed class Latencies
    {
        private readonly ConcurrentQueue<double> _ms = new();
        private long _first = long.MaxValue;
        private long _last;

        public void Add(long started, TimeSpan latency)
        {
            _ms.Enqueue(latency.TotalMilliseconds);
            InterlockedMin(ref _first, started);
            InterlockedMax(ref _last, started + (long)(latency.TotalSeconds * Stopwatch.Frequency));
        }

        public Summary Summary()
        {
            var sorted = _ms.Order().ToArray();
            double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
            return new Summary(sorted.Length / ((double)(_last - _first) / Stopwatch.Frequency), At(0.5), At(0.99));
        }

        private static void InterlockedMin(ref long target, long value)
        {
            for (var current = Volatile.Read(ref target); value < current; current = Volatile.Read(ref target))
            {
                if (Interlocked.CompareExchange(ref target, value, current) == current)
                {
                    return;
                }
            }
        }

        private static void InterlockedMax(ref long target, long value)
        {
            for (var current = Volatile.Read(ref target); value > current; current = Volatile.Read(ref target))
            {
                if (Interlocked.CompareExchange(ref target, value, current) == current)
                {
                    return;
                }
            }
        }
    }

    private sealed record Summary(double PerSecond, double P50, double P99);

    private sealed record Measurement(Summary Subscribes, Summary Puts, Summary Pages, double? WalBytesPerSubscribe, double? WritesPerSubscribe);
}
