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
/// caught by one waits on top of its own time: the tail a p99 is made of.
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
        return 0;
    }
}
