using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;

namespace Presence.Bench;

/// <summary>
/// fanout: N streams (SSE, then separately WebSocket, then Stream Chat's <c>/connect</c> sockets) watch one member on
/// one gateway (the first two through a channel they watch, the SDK's sockets through queryUsers with presence); the
/// member changes status again and again. Reports the delivery latency to every watcher (from just before the PUT to the event read by
/// the client), resident memory and managed heap per idle open stream (after a full GC, each watcher's own presence
/// included: an open stream holds its user online), from the empty process and at the margin (half as many streams
/// again on top), and grain-to-gateway calls per change. wrk cannot hold streams, so
/// this scenario is its own load generator.
/// </summary>
public static class Fanout
{
    private const string Channel = "stage";
    private const string Member = "singer";

    public static async Task<int> Run(BenchSettings settings)
    {
        await Scenarios.BuildServers();
        var table = new Table(
            $"fanout: {settings.Watchers:N0} watchers of one channel on one gateway, {settings.Changes} changes of one member (target p99 < 150 ms, < 4 KB per idle stream)",
            ["transport", "streams", "p50 ms", "p99 ms", "max ms", "missed", "RSS KiB/stream", "heap KiB/stream", "marginal RSS KiB/stream", "marginal heap KiB/stream", "RSS MiB", "grain calls/change"]);
        foreach (var transport in new[] { "sse", "websocket", "connect" })
        {
            using var gateway = await Scenarios.StartGateway(new Dictionary<string, string>
            {
                ["Presence__Stream__Apps__" + LoadScripts.StreamApiKey + "__Secret"] = LoadScripts.StreamSecret,
                ["Presence__Realtime__MaxConnectionsPerUser"] = "5",
                ["Presence__Diagnostics__Enabled"] = "true",
                ["Presence__Operators__Tenant"] = "default", // the bench's admin token may call /admin/gc
                ["Logging__LogLevel__Default"] = "Warning",
            });
            Add(table, transport, await Measure(gateway, transport, settings));
        }
        table.Print();
        return 0;
    }

    private static async Task<FanoutResult> Measure(ServerProcess gateway, string transport, BenchSettings settings)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromHours(1) })
        {
            BaseAddress = gateway.Url,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var member = LoadScripts.Token(Member);
        await Send(http, HttpMethod.Put, $"/v1/channels/{Channel}/subscribe", member, null);
        await Send(http, HttpMethod.Put, "/v1/users/me/presence", member, "presence=warm");
        await Task.Delay(2000);
        var admin = LoadScripts.Token("bench-app", admin: true);
        var idleBefore = await MemoryScenario.Collect(http, admin);

        var changes = settings.Changes;
        var arrivals = Enumerable.Range(0, changes).Select(_ => new long[settings.Watchers]).ToArray();
        var starts = new long[changes];
        Console.Error.WriteLine($"{transport}: opening {settings.Watchers:N0} streams...");
        var opening = Stopwatch.StartNew();
        var watchers = await OpenWatchers(http, gateway.Url, transport, 0, settings.Watchers, arrivals);
        Console.Error.WriteLine($"{transport}: {watchers.Count:N0} streams open in {opening.Elapsed.TotalSeconds:F1} s");
        await Task.Delay(5000);
        var idleAfter = await MemoryScenario.Collect(http, admin);

        var notificationsBefore = await Metric(http, "presence_gateway_notifications_total");
        for (var c = 0; c < changes; c++)
        {
            starts[c] = Stopwatch.GetTimestamp();
            await Send(http, HttpMethod.Put, "/v1/users/me/presence", member, $"presence=s{c}");
            var deadline = Stopwatch.StartNew();
            while (arrivals[c].Any(a => a == 0) && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(20);
            }
            await Task.Delay(300);
        }
        var notifications = await Metric(http, "presence_gateway_notifications_total") - notificationsBefore;

        // Memory at the margin: half as many streams again, opened on a gateway that already holds the first ones and
        // so has paid its one-time costs (code compiled and tiered up, the GC's heaps grown), compared after a full GC.
        var marginBefore = await MemoryScenario.Collect(http, admin);
        var extra = settings.Watchers / 2;
        Console.Error.WriteLine($"{transport}: opening {extra:N0} more streams for the marginal memory...");
        var more = await OpenWatchers(http, gateway.Url, transport, settings.Watchers, extra, [new long[extra]]);
        await Task.Delay(5000);
        var marginAfter = await MemoryScenario.Collect(http, admin);

        var latencies = new List<double>(changes * settings.Watchers);
        var missed = 0;
        for (var c = 0; c < changes; c++)
        {
            foreach (var at in arrivals[c])
            {
                if (at == 0)
                {
                    missed++;
                }
                else
                {
                    latencies.Add(Stopwatch.GetElapsedTime(starts[c], at).TotalMilliseconds);
                }
            }
        }
        foreach (var watcher in watchers.Concat(more))
        {
            watcher.Dispose();
        }
        latencies.Sort();
        return new FanoutResult(
            watchers.Count,
            latencies.Count == 0 ? double.NaN : latencies[latencies.Count / 2],
            latencies.Count == 0 ? double.NaN : latencies[(int)Math.Min(latencies.Count - 1, Math.Ceiling(latencies.Count * 0.99) - 1)],
            latencies.Count == 0 ? double.NaN : latencies[^1],
            missed,
            (idleAfter.ResidentBytes - idleBefore.ResidentBytes) / 1024.0 / Math.Max(1, watchers.Count),
            (idleAfter.ManagedHeapBytes - idleBefore.ManagedHeapBytes) / 1024.0 / Math.Max(1, watchers.Count),
            (marginAfter.ResidentBytes - marginBefore.ResidentBytes) / 1024.0 / Math.Max(1, more.Count),
            (marginAfter.ManagedHeapBytes - marginBefore.ManagedHeapBytes) / 1024.0 / Math.Max(1, more.Count),
            idleAfter.ResidentBytes / 1048576.0,
            notifications / changes);
    }

    /// <summary>Opens <paramref name="count"/> streams of users w{first}..., 100 at a time; each stamps its arrivals at its index in <paramref name="arrivals"/>.</summary>
    private static async Task<List<Watcher>> OpenWatchers(HttpClient http, Uri url, string transport, int first, int count, long[][] arrivals)
    {
        var watchers = new List<Watcher>(count);
        using var gate = new SemaphoreSlim(100);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async w =>
        {
            await gate.WaitAsync();
            try
            {
                var watcher = new Watcher(w, arrivals);
                await watcher.Open(http, url, transport, $"w{first + w}");
                lock (watchers)
                {
                    watchers.Add(watcher);
                }
            }
            finally
            {
                gate.Release();
            }
        }));
        return watchers;
    }

    private static async Task Send(HttpClient http, HttpMethod method, string path, string token, string? form)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (form is not null)
        {
            request.Content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded");
        }
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    private static async Task<double> Metric(HttpClient http, string name)
    {
        var text = await http.GetStringAsync("/metrics");
        return text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>One stream; it stamps the arrival of each change of the member ("s{n}") it reads.</summary>
    private sealed class Watcher(int index, long[][] arrivals) : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private HttpResponseMessage? _response;
        private ClientWebSocket? _socket;

        public async Task Open(HttpClient http, Uri baseAddress, string transport, string user)
        {
            var opened = new TaskCompletionSource();
            if (transport == "sse")
            {
                var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/events?channels={Channel}");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", LoadScripts.Token(user));
                _response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                _response.EnsureSuccessStatusCode();
                var stream = await _response.Content.ReadAsStreamAsync();
                _ = ReadSse(stream, opened);
            }
            else if (transport == "websocket")
            {
                _socket = new ClientWebSocket();
                var uri = new UriBuilder(baseAddress) { Scheme = "ws", Path = "/v1/stream", Query = $"channels={Channel}&access_token={LoadScripts.Token(user)}" }.Uri;
                await _socket.ConnectAsync(uri, _stop.Token);
                _ = ReadWebSocket(_socket, opened);
            }
            else
            {
                await OpenStreamChat(http, baseAddress, user, opened);
                return;
            }
            await opened.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }

        /// <summary>As Stream's SDK: the socket (its first frame names the connection), then queryUsers of the member with presence.</summary>
        private async Task OpenStreamChat(HttpClient http, Uri baseAddress, string user, TaskCompletionSource opened)
        {
            var token = LoadScripts.StreamToken(user);
            var json = $$$"""{"user_id":"{{{user}}}","user_details":{"id":"{{{user}}}"}}""";
            _socket = new ClientWebSocket();
            var uri = new UriBuilder(baseAddress)
            {
                Scheme = "ws",
                Path = "/connect",
                Query = $"json={Uri.EscapeDataString(json)}&api_key={LoadScripts.StreamApiKey}&authorization={token}&stream-auth-type=jwt",
            }.Uri;
            await _socket.ConnectAsync(uri, _stop.Token);
            var first = new byte[4096];
            var received = await _socket.ReceiveAsync(first, _stop.Token).WaitAsync(TimeSpan.FromSeconds(60));
            using var health = System.Text.Json.JsonDocument.Parse(first.AsMemory(0, received.Count));
            var connectionId = health.RootElement.GetProperty("connection_id").GetString();
            _ = ReadWebSocket(_socket, opened);
            var payload = Uri.EscapeDataString($$$"""{"filter_conditions":{"id":"{{{Member}}}"},"presence":true}""");
            using var query = new HttpRequestMessage(HttpMethod.Get, $"/users?api_key={LoadScripts.StreamApiKey}&connection_id={connectionId}&payload={payload}");
            query.Headers.TryAddWithoutValidation("Authorization", token);
            query.Headers.Add("stream-auth-type", "jwt");
            using var response = await http.SendAsync(query);
            response.EnsureSuccessStatusCode();
        }

        // The readers allocate nothing per event: on a 2-core box the clients share the CPU with the gateway, and
        // their garbage collections would show up as delivery latency.
        private async Task ReadSse(Stream stream, TaskCompletionSource opened)
        {
            var buffer = new byte[4096];
            var kept = 0; // an event cut by the end of a read waits here for the rest
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer.AsMemory(kept), _stop.Token)) > 0)
                {
                    var data = buffer.AsSpan(0, kept + read);
                    var end = data.LastIndexOf("\n\n"u8);
                    var complete = end >= 0 ? end + 2 : 0;
                    Seen(data[..complete], opened);
                    data[complete..].CopyTo(buffer);
                    kept = data.Length - complete;
                    if (kept == buffer.Length)
                    {
                        kept = 0; // no event is this long: skip it
                    }
                }
            }
            catch (Exception error) when (error is OperationCanceledException or IOException or HttpRequestException)
            {
                // Closed.
            }
        }

        private async Task ReadWebSocket(ClientWebSocket socket, TaskCompletionSource opened)
        {
            var buffer = new byte[4096];
            var kept = 0; // a message received in parts waits here for its end
            try
            {
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer.AsMemory(kept), _stop.Token);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                    kept += received.Count;
                    if (received.EndOfMessage || kept == buffer.Length)
                    {
                        Seen(buffer.AsSpan(0, kept), opened);
                        kept = 0;
                    }
                }
            }
            catch (Exception error) when (error is OperationCanceledException or WebSocketException)
            {
                // Closed.
            }
        }

        private void Seen(ReadOnlySpan<byte> data, TaskCompletionSource opened)
        {
            var now = Stopwatch.GetTimestamp();
            if (data.IndexOf("\"health.check\""u8) >= 0)
            {
                opened.TrySetResult();
            }
            // Every change event of the member in this chunk: ..."id":"singer"..."status":"s<n>"...
            int member;
            while ((member = data.IndexOf("\"id\":\"singer\""u8)) >= 0)
            {
                data = data[member..];
                var at = data.IndexOf("\"status\":\"s"u8);
                if (at < 0)
                {
                    return;
                }
                data = data[(at + 11)..];
                var digits = data.IndexOf((byte)'"');
                if (digits > 0 && System.Buffers.Text.Utf8Parser.TryParse(data[..digits], out int change, out _) && change < arrivals.Length)
                {
                    Interlocked.CompareExchange(ref arrivals[change][index], now, 0);
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _response?.Dispose();
            _socket?.Abort();
            _socket?.Dispose();
        }
    }

    private sealed record FanoutResult(int Streams, double P50Ms, double P99Ms, double MaxMs, int Missed, double KiBPerStream, double HeapKiBPerStream,
        double MarginalKiBPerStream, double MarginalHeapKiBPerStream, double ResidentMiB, double CallsPerChange);

    private static void Add(Table table, string transport, FanoutResult r) => table.AddRow(
        transport,
        r.Streams.ToString("N0", CultureInfo.InvariantCulture),
        r.P50Ms.ToString("F1", CultureInfo.InvariantCulture),
        r.P99Ms.ToString("F1", CultureInfo.InvariantCulture),
        r.MaxMs.ToString("F1", CultureInfo.InvariantCulture),
        r.Missed.ToString(CultureInfo.InvariantCulture),
        r.KiBPerStream.ToString("F2", CultureInfo.InvariantCulture),
        r.HeapKiBPerStream.ToString("F2", CultureInfo.InvariantCulture),
        r.MarginalKiBPerStream.ToString("F2", CultureInfo.InvariantCulture),
        r.MarginalHeapKiBPerStream.ToString("F2", CultureInfo.InvariantCulture),
        r.ResidentMiB.ToString("F0", CultureInfo.InvariantCulture),
        r.CallsPerChange.ToString("F2", CultureInfo.InvariantCulture));
}
