using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;

namespace Presence.Bench;

/// <summary>
/// allocations &lt;pid&gt; [seconds]: what a running .NET process (a gateway under load) allocates, by type. The
/// runtime reports a sample about every 100 KB allocated (GC AllocationTick events, read over EventPipe), so the
/// shares are of bytes, good to a percent or so over a few seconds of steady load. Pair it with the process's
/// <c>dotnet_gc_heap_total_allocated_bytes_total</c> and request counts from /metrics for bytes per request.
/// It also prints the collections' pauses by generation (threads suspended to resumed), which is what a request
/// caught by one waits on top of its own time, and what the pauses are made of: the gen0 budget the collector chose
/// (with DATAS it moves), the bytes each collection promoted, and the mark's stages (stacks, handles, the older
/// generations' dirty cards).
/// </summary>
public static class Allocations
{
    public static async Task<int> Run(string[] args)
    {
        if (args.Length < 1 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var pid))
        {
            Console.Error.WriteLine("usage: dotnet run -c Release --project Bench -- allocations <pid> [seconds] [top]");
            return 2;
        }
        var seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var top = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 40;
        var providers = new[] { new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Verbose, (long)ClrTraceEventParser.Keywords.GC) };
        using var session = new DiagnosticsClient(pid).StartEventPipeSession(providers, requestRundown: false);
        var byType = new Dictionary<string, long>();
        long total = 0;
        using var source = new EventPipeEventSource(session.EventStream);
        source.Clr.GCAllocationTick += tick =>
        {
            var type = tick.TypeName ?? "?";
            byType[type] = byType.GetValueOrDefault(type) + tick.AllocationAmount64;
            total += tick.AllocationAmount64;
        };
        // Each collection's pause: from the runtime suspending threads to resuming them, by the collection's generation.
        var pauses = new List<(int Generation, double Ms)>();
        double suspended = -1;
        var generation = -1;
        source.Clr.GCSuspendEEStart += e => (suspended, generation) = (e.TimeStampRelativeMSec, -1);
        source.Clr.GCStart += e => generation = e.Depth;
        source.Clr.GCRestartEEStop += e =>
        {
            if (suspended >= 0 && generation >= 0) // a suspension with no collection in it is not a GC pause
            {
                pauses.Add((generation, e.TimeStampRelativeMSec - suspended));
            }
            suspended = -1;
        };
        // The gen0 budget each collection set (what the next one waits for) and the heaps it ran on.
        var budgets = new List<(long Bytes, int Heaps)>();
        source.Clr.GCGlobalHeapHistory += e => budgets.Add((e.FinalYoungestDesired, e.NumHeaps));
        // What each collection kept: gen0 survivors promoted to gen1 (and gen1's to gen2), the work a pause is made of.
        var promoted = new List<(long Gen0, long Gen1)>();
        source.Clr.GCHeapStats += e => promoted.Add((e.TotalPromotedSize0, e.TotalPromotedSize1));
        // Where a pause goes: each mark stage's event comes at its end, so the time since the previous one (on any heap:
        // a rough split) is its share, with the bytes it marked.
        var stages = new Dictionary<string, (double Ms, long Bytes, int Count)>();
        double lastMark = -1;
        source.Clr.GCStart += e => lastMark = e.TimeStampRelativeMSec;
        source.Clr.GCMarkWithType += e =>
        {
            var key = e.Type switch
            {
                0 => "stacks",
                1 => "finalization queue",
                2 => "handles",
                3 => "older generations (cards)",
                6 => "dependent handles",
                7 => "new finalizable",
                var other => other.ToString(CultureInfo.InvariantCulture),
            };
            var (ms, bytes, count) = stages.GetValueOrDefault(key);
            stages[key] = (ms + (lastMark >= 0 ? e.TimeStampRelativeMSec - lastMark : 0), bytes + e.Promoted, count + 1);
            lastMark = e.TimeStampRelativeMSec;
        };
        var reading = Task.Run(source.Process);
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        await session.StopAsync(CancellationToken.None);
        await reading;

        Console.WriteLine($"{total / 1048576.0:F1} MiB allocated in {seconds} s ({total / 1048576.0 / seconds:F1} MiB/s), by type:");
        foreach (var (type, bytes) in byType.OrderByDescending(kv => kv.Value).Take(top))
        {
            Console.WriteLine($"{bytes * 100.0 / Math.Max(1, total),6:F2}%  {type}");
        }
        foreach (var group in pauses.GroupBy(p => p.Generation).OrderBy(g => g.Key))
        {
            var ms = group.Select(p => p.Ms).Order().ToArray();
            Console.WriteLine(FormattableString.Invariant(
                $"gen{group.Key} pauses: {ms.Length} ({ms.Length / (double)seconds:F1}/s), median {ms[ms.Length / 2]:F2} ms, p90 {ms[(int)(ms.Length * 0.9)]:F2} ms, max {ms[^1]:F2} ms, {ms.Sum() / (10.0 * seconds):F1} % of the time"));
        }
        if (budgets.Count > 0)
        {
            var bytes = budgets.Select(b => b.Bytes).Order().ToArray();
            Console.WriteLine(FormattableString.Invariant(
                $"gen0 budget: median {bytes[bytes.Length / 2] / 1048576.0:F1} MiB (min {bytes[0] / 1048576.0:F1}, max {bytes[^1] / 1048576.0:F1}), heaps {string.Join('/', budgets.Select(b => b.Heaps).Distinct().Order())}"));
        }
        foreach (var (stage, (ms, bytes, count)) in stages.OrderByDescending(kv => kv.Value.Ms))
        {
            Console.WriteLine(FormattableString.Invariant($"mark from {stage}: {ms / Math.Max(1, pauses.Count):F2} ms and {bytes / 1024.0 / Math.Max(1, pauses.Count):F0} KiB per collection ({count} events)"));
        }
        if (promoted.Count > 0)
        {
            var gen0 = promoted.Select(p => p.Gen0).Order().ToArray();
            Console.WriteLine(FormattableString.Invariant(
                $"promoted out of gen0 per collection: median {gen0[gen0.Length / 2] / 1048576.0:F1} MiB, max {gen0[^1] / 1048576.0:F1}; out of gen1 in all {promoted.Sum(p => p.Gen1) / 1048576.0:F1} MiB"));
        }
        return 0;
    }
}
