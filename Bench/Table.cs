using System.Globalization;

namespace Presence.Bench;

/// <summary>The printed result of a scenario: one row per run (by default a wrk run's columns).</summary>
public sealed class Table(string title, string[]? header = null)
{
    private readonly List<string[]> _rows = [header ?? ["run", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "RSS MiB", "ratio", "note"]];

    public void AddRow(params string[] cells) => _rows.Add(cells);

    public void Add(string run, WrkResult result, double residentMiB, double? ratio = null, string note = "") => _rows.Add(
    [
        run,
        result.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
        result.P50Ms.ToString("F2", CultureInfo.InvariantCulture),
        result.P99Ms.ToString("F2", CultureInfo.InvariantCulture),
        result.MaxMs.ToString("F1", CultureInfo.InvariantCulture),
        result.Errors.ToString(CultureInfo.InvariantCulture),
        residentMiB.ToString("F0", CultureInfo.InvariantCulture),
        ratio is { } r ? r.ToString("F2", CultureInfo.InvariantCulture) : "",
        note,
    ]);

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine(title);
        var widths = Enumerable.Range(0, _rows[0].Length).Select(c => _rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in _rows)
        {
            Console.WriteLine("| " + string.Join(" | ", row.Select((cell, c) => cell.PadRight(widths[c]))) + " |");
        }
        Console.WriteLine();
    }
}
