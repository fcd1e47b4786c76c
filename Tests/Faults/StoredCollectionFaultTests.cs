using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Presence.Tests.Postgres;
using Presence.Tests.Support;
using Xunit.Abstractions;

namespace Presence.Tests.Faults;

/// <summary>
/// What is stored by change survives the death of the process that held it: the online list (index shards) after a
/// kill -9 or a rolling restart, a channel's members after a kill -9 in the middle of a burst of joins.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class StoredCollectionFaultTests(ITestOutputHelper output) : MigratedDatabaseTests
{
    private static readonly string[] Users = [.. Enumerable.Range(0, 300).Select(i => $"u{i:D3}")];

    [PostgresFact]
    public async Task After_a_kill_9_of_the_silo_holding_the_most_shards_every_gateway_lists_everyone_again_within_30_seconds_without_a_write()
    {
        await using var cluster = new ProcessCluster(Database.ConnectionString, silos: 3, gateways: 2);
        cluster.StartAll();
        await cluster.WaitReady(TimeSpan.FromSeconds(120));
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        await BringOnline(cluster);
        for (var gateway = 0; gateway < 2; gateway++)
        {
            Assert.Equal(Users, await PnutList(cluster, gateway));
        }

        using var client = await cluster.Client();
        var (victim, shards) = await cluster.SiloWithMost(client, "presence-index");
        await client.StopAsync();
        output.WriteLine($"index shards per silo: {string.Join(", ", shards)}; killing silo {victim}");
        cluster.KillSilo(victim);
        var clock = Stopwatch.StartNew();

        // Reads only from here on: nobody writes, so only what the shards stored can bring the list back.
        for (var gateway = 0; gateway < 2; gateway++)
        {
            await Poll.Until(async () => (await PnutList(cluster, gateway)).SequenceEqual(Users), $"gateway {gateway} lists all {Users.Length} users (pnut) within 30 s of the kill",
                timeout: TimeSpan.FromSeconds(30) - clock.Elapsed, interval: TimeSpan.FromMilliseconds(250), failuresAreNotYet: true, details: cluster.Logs);
            await Poll.Until(async () => (await RocketFull(cluster, gateway)).SequenceEqual(Users), $"gateway {gateway} lists all {Users.Length} users (Rocket.Chat) within 30 s of the kill",
                timeout: TimeSpan.FromSeconds(30) - clock.Elapsed, interval: TimeSpan.FromMilliseconds(250), failuresAreNotYet: true, details: cluster.Logs);
        }
        output.WriteLine($"the list was whole again from both gateways {clock.Elapsed.TotalSeconds:F1} s after the kill");

        // The change log came back too: changes made before the kill are still in a delta taken after it.
        var from = since.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        using var rocket = RocketChat(cluster, 1, "reader");
        var delta = await Json(await rocket.GetAsync($"/api/v1/users.presence?from={from}"));
        Assert.False(delta.GetProperty("full").GetBoolean());
        Assert.Equal(Users, delta.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("_id").GetString()!).Order(StringComparer.Ordinal));
    }

    [PostgresFact]
    public async Task A_kill_9_while_index_nodes_split_loses_no_acknowledged_user_and_the_list_is_whole_within_30_seconds()
    {
        // Nodes of 8 users: bringing 300 online splits the tenant's root and its halves, down to one node per logical shard.
        await using var cluster = new ProcessCluster(Database.ConnectionString, silos: 3, gateways: 2) { SiloSettings = [("Presence__Index__SplitAt", "8")] };
        cluster.StartAll();
        await cluster.WaitReady(TimeSpan.FromSeconds(120));
        using var client = await cluster.Client();

        var acknowledged = new ConcurrentBag<string>();
        var failed = 0;
        var burst = Parallel.ForEachAsync(Users, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (user, _) =>
        {
            // Each user until acknowledged, through either gateway: a call the kill cut off is made again.
            for (var attempt = 0; ; attempt++)
            {
                using var http = Pnut(cluster, (user[^1] + attempt) % 2, user);
                try
                {
                    var response = await http.PutAsync("/v1/users/me/presence", global::Presence.Tests.Support.Pnut.Form(("presence", "online")));
                    if (response.IsSuccessStatusCode)
                    {
                        acknowledged.Add(user);
                        return;
                    }
                    Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
                {
                }
                Interlocked.Increment(ref failed);
                await Task.Delay(200);
            }
        });
        await Poll.Until(() => acknowledged.Count >= 60, "a fifth of the users online (the root has split by then)", timeout: TimeSpan.FromSeconds(60));
        var (victim, nodes) = await cluster.SiloWithMost(client, "presence-index");
        await client.StopAsync();
        cluster.KillSilo(victim);
        var clock = Stopwatch.StartNew();
        output.WriteLine($"killed silo {victim} (index nodes per silo: {string.Join(", ", nodes)}) with {acknowledged.Count} users acknowledged");
        await burst.WaitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"all {acknowledged.Count} acknowledged {clock.Elapsed.TotalSeconds:F1} s after the kill; {failed} calls made again");

        for (var gateway = 0; gateway < 2; gateway++)
        {
            await Poll.Until(async () => (await PnutList(cluster, gateway)).SequenceEqual(Users), $"gateway {gateway} lists all {Users.Length} users within 30 s of the last acknowledgement",
                timeout: TimeSpan.FromSeconds(30), interval: TimeSpan.FromMilliseconds(250), failuresAreNotYet: true, details: cluster.Logs);
        }
        var rows = await Database.Scalar<long>("SELECT count(*) FROM presence_collection_item WHERE kind = 2 AND item LIKE 'e:%'");
        Assert.True(rows == Users.Length, $"{rows} users stored, each once, by the node that holds it; logs:\n{cluster.Logs()}");
    }

    [PostgresFact]
    public async Task During_a_rolling_restart_of_every_silo_the_list_stays_complete()
    {
        await using var cluster = new ProcessCluster(Database.ConnectionString, silos: 3, gateways: 2);
        cluster.StartAll();
        await cluster.WaitReady(TimeSpan.FromSeconds(120));
        await BringOnline(cluster);

        var reads = 0;
        var incomplete = new ConcurrentBag<string>();
        var failures = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 2).Select(gateway => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var listed = await PnutList(cluster, gateway);
                    Interlocked.Increment(ref reads);
                    if (!listed.SequenceEqual(Users))
                    {
                        incomplete.Add($"gateway {gateway}: {listed.Length} listed");
                    }
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException or Xunit.Sdk.XunitException)
                {
                    failures.Add($"gateway {gateway}: {error.Message}");
                }
            }
        })).ToArray();

        for (var silo = 0; silo < 3; silo++)
        {
            var clock = Stopwatch.StartNew();
            await cluster.StopSilo(silo, TimeSpan.FromSeconds(60));
            cluster.StartSilo(silo);
            await Task.Delay(TimeSpan.FromSeconds(8)); // it joins, and the next one may go
            output.WriteLine($"silo {silo} restarted in {clock.Elapsed.TotalSeconds:F1} s; {Volatile.Read(ref reads)} complete reads so far");
        }
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        output.WriteLine($"{reads} reads, {incomplete.Count} incomplete, {failures.Count} failed");
        Assert.True(reads > 20, $"the list was read {reads} times");
        Assert.Empty(incomplete);
        Assert.Empty(failures);
    }

    [PostgresFact]
    public async Task A_kill_9_during_a_burst_of_joins_to_one_channel_loses_no_acknowledged_join()
    {
        await using var cluster = new ProcessCluster(Database.ConnectionString, silos: 3, gateways: 2);
        cluster.StartAll();
        await cluster.WaitReady(TimeSpan.FromSeconds(120));
        using (var first = Pnut(cluster, 0, "first"))
        {
            await (await first.PutAsync("/v1/channels/burst/subscribe", null)).AssertOk();
        }
        using var client = await cluster.Client();
        var (victim, _) = await cluster.SiloWithMost(client, "presence-channel");
        await client.StopAsync();

        var acknowledged = new ConcurrentBag<string>();
        var codes = new ConcurrentDictionary<HttpStatusCode, int>();
        using var stop = new CancellationTokenSource();
        var joiners = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var user = $"j{w}x{i}";
                using var http = Pnut(cluster, (w + i) % 2, user);
                try
                {
                    var response = await http.PutAsync("/v1/channels/burst/subscribe", null);
                    codes.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
                    if (response.IsSuccessStatusCode)
                    {
                        acknowledged.Add(user);
                    }
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
                {
                    // Not acknowledged: it may or may not have happened.
                }
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(3));
        cluster.KillSilo(victim);
        var atKill = acknowledged.Count;
        await Task.Delay(TimeSpan.FromSeconds(12));
        await stop.CancelAsync();
        await Task.WhenAll(joiners);
        output.WriteLine($"joins acknowledged: {atKill} before the kill, {acknowledged.Count} in all; responses {string.Join(", ", codes.Select(c => $"{(int)c.Key}: {c.Value}"))}");
        Assert.DoesNotContain(HttpStatusCode.InternalServerError, codes.Keys);
        Assert.True(acknowledged.Count > atKill, $"joins go on after the kill; logs:\n{cluster.Logs()}");

        var members = new HashSet<string>(StringComparer.Ordinal);
        using var reader = Pnut(cluster, 1, "reader");
        string? before = null;
        do
        {
            var page = await (await reader.GetAsync($"/v1/channels/burst/subscribers?count=200{(before is null ? "" : "&before_id=" + before)}")).AssertOk();
            members.UnionWith(page.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!));
            before = page.GetProperty("meta").GetProperty("more").GetBoolean() ? page.GetProperty("meta").GetProperty("min_id").GetString() : null;
        }
        while (before is not null);
        var lost = acknowledged.Where(user => !members.Contains(user)).ToList();
        Assert.True(lost.Count == 0, $"acknowledged joins lost: {string.Join(", ", lost)}");
    }

    private static async Task BringOnline(ProcessCluster cluster)
        => await Parallel.ForEachAsync(Users, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (user, _) =>
        {
            using var http = Pnut(cluster, user[^1] % 2, user);
            await (await http.PutAsync("/v1/users/me/presence", global::Presence.Tests.Support.Pnut.Form(("presence", "online")))).AssertOk();
        });

    /// <summary>The online list walked page by page through one gateway, in id order.</summary>
    private static async Task<string[]> PnutList(ProcessCluster cluster, int gateway)
    {
        using var http = Pnut(cluster, gateway, "reader");
        var seen = new List<string>();
        string? before = null;
        do
        {
            var page = await (await http.GetAsync($"/v1/presence?count=200{(before is null ? "" : "&before_id=" + before)}")).AssertOk();
            seen.AddRange(page.GetProperty("data").EnumerateArray().Select(u => u.GetProperty("id").GetString()!));
            before = page.GetProperty("meta").GetProperty("more").GetBoolean() ? page.GetProperty("meta").GetProperty("min_id").GetString() : null;
        }
        while (before is not null);
        return [.. seen.Order(StringComparer.Ordinal)];
    }

    private static async Task<string[]> RocketFull(ProcessCluster cluster, int gateway)
    {
        using var http = RocketChat(cluster, gateway, "reader");
        var json = await Json(await http.GetAsync("/api/v1/users.presence"));
        Assert.True(json.GetProperty("full").GetBoolean());
        return [.. json.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("_id").GetString()!).Order(StringComparer.Ordinal)];
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Json();
    }

    private static HttpClient Pnut(ProcessCluster cluster, int gateway, string user)
    {
        var client = new HttpClient { BaseAddress = cluster.Gateway(gateway), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayFactory.Token(user, key: ProcessCluster.SigningKey));
        return client;
    }

    private static HttpClient RocketChat(ProcessCluster cluster, int gateway, string user)
    {
        var client = new HttpClient { BaseAddress = cluster.Gateway(gateway), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("X-Auth-Token", GatewayFactory.Token(user, key: ProcessCluster.SigningKey));
        client.DefaultRequestHeaders.Add("X-User-Id", user);
        return client;
    }
}
