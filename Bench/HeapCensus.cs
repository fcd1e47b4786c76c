using System.Globalization;
using Microsoft.Diagnostics.Runtime;

namespace Presence.Bench;

/// <summary>
/// heap &lt;pid&gt; [top]: a census of a running .NET process's heap (it is paused while read). Two tables by type:
/// live objects (reachable from the roots, the finalizer queue's included), which is what memory per user or per stream
/// is made of; and unreachable objects still in gen1, gen2 or the large and pinned object heaps (collected with gen2),
/// which is garbage that was promoted (or born old) before it died: what makes collections slow; and everything in
/// gen1, live or not: what the latest gen0 collections kept, mostly what an old object pointed at when they ran.
/// Take it right after a few seconds of load. Diff two live censuses (before and after opening streams, say) for the
/// cost of one more of something.
/// </summary>
public static class HeapCensus
{
    public static int Run(string[] args)
    {
        if (args.Length < 1 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var pid))
        {
            Console.Error.WriteLine("usage: dotnet run -c Release --project Bench -- heap <pid> [top]");
            return 2;
        }
        var top = 30;
        if (args.Length > 1 && !int.TryParse(args[1], CultureInfo.InvariantCulture, out top))
        {
            Console.Error.WriteLine("usage: dotnet run -c Release --project Bench -- heap <pid> [top]");
            return 2;
        }
        using var target = DataTarget.AttachToProcess(pid, suspend: true);
        using var runtime = CreateRuntime(target.ClrVersions[0]);
        var heap = runtime.Heap;

        var live = Reachable(heap);
        var liveByType = new Dictionary<string, (long Count, long Bytes)>();
        var promotedGarbage = new Dictionary<string, (long Count, long Bytes)>();
        var inGen1 = new Dictionary<string, (long Count, long Bytes)>();
        foreach (var segment in heap.Segments)
        {
            foreach (var obj in segment.EnumerateObjects())
            {
                if (!obj.IsValid || obj.IsFree)
                {
                    continue;
                }
                if (segment.GetGeneration(obj.Address) is Generation.Generation1)
                {
                    Count(inGen1, obj);
                }
                if (live.Contains(obj.Address))
                {
                    Count(liveByType, obj);
                }
                else if (segment.GetGeneration(obj.Address) is Generation.Generation1 or Generation.Generation2 or Generation.Large or Generation.Pinned)
                {
                    Count(promotedGarbage, obj);
                }
            }
        }
        Print("live objects", liveByType, top);
        Print("unreachable objects in gen1, gen2, LOH and POH (promoted, then died)", promotedGarbage, top);
        Print("objects in gen1, live or not (what gen0 collections promoted since the last gen1 collection)", inGen1, top);
        return 0;
    }

    /// <summary>The DAC ClrMD finds for the target's runtime, else the one beside ours (same machine, same runtime).</summary>
    private static ClrRuntime CreateRuntime(ClrInfo clr)
    {
        try
        {
            return clr.CreateRuntime();
        }
        catch (Exception error) when (error is FileNotFoundException or InvalidOperationException or ClrDiagnosticsException)
        {
            var local = Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "libmscordaccore.so");
            return clr.CreateRuntime(local, ignoreMismatch: true);
        }
    }

    private static HashSet<ulong> Reachable(ClrHeap heap)
    {
        var seen = new HashSet<ulong>();
        var pending = new Stack<ulong>();
        foreach (var root in heap.EnumerateRoots())
        {
            if (root.Object.Address != 0 && seen.Add(root.Object.Address))
            {
                pending.Push(root.Object.Address);
            }
        }
        while (pending.TryPop(out var address))
        {
            var obj = heap.GetObject(address);
            if (!obj.IsValid)
            {
                continue;
            }
            foreach (var reference in obj.EnumerateReferenceAddresses(carefully: true))
            {
                if (reference != 0 && seen.Add(reference))
                {
                    pending.Push(reference);
                }
            }
        }
        return seen;
    }

    private static void Count(Dictionary<string, (long Count, long Bytes)> byType, ClrObject obj)
    {
        var name = obj.Type?.Name ?? "?";
        var (count, bytes) = byType.GetValueOrDefault(name);
        byType[name] = (count + 1, bytes + (long)obj.Size);
    }

    private static void Print(string title, Dictionary<string, (long Count, long Bytes)> byType, int top)
    {
        Console.WriteLine($"{title}: {byType.Values.Sum(v => v.Bytes) / 1048576.0:F1} MiB in {byType.Values.Sum(v => v.Count):N0} objects");
        foreach (var (name, (count, bytes)) in byType.OrderByDescending(kv => kv.Value.Bytes).Take(top))
        {
            Console.WriteLine($"{bytes / 1048576.0,9:F1} MiB {count,11:N0}  {name}");
        }
        Console.WriteLine();
    }
}
