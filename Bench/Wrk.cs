using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Presence.Bench;

/// <summary>One wrk run: requests/s, latency percentiles, how many requests and how many errors.</summary>
public sealed record WrkResult(double RequestsPerSecond, double P50Ms, double P99Ms, double MaxMs, long Requests, long Errors);

public static partial class Wrk
{
    public static async Task<WrkResult> Run(Uri target, string script, int seconds, int connections)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-t2", $"-c{connections}", $"-d{seconds}s", "--latency", "-s", script, target.ToString().TrimEnd('/') })
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw Missing();
        }
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk failed: {await process.StandardError.ReadToEndAsync()}");
        }
        return new WrkResult(
            Number(RequestsPerSecond(), output),
            Latency("50%", output),
            Latency("99%", output),
            MaxLatency(output),
            (long)Number(TotalRequests(), output),
            (long)(NonSuccess().Match(output) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0)
            + (long)(SocketErrors().Match(output) is { Success: true } s ? s.Groups.Cast<Group>().Skip(1).Sum(g => double.Parse(g.Value, CultureInfo.InvariantCulture)) : 0));
    }

    /// <summary>Fails at once, before anything is built or started, when wrk is not installed.</summary>
    public static void Require()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        if (!path.Split(Path.PathSeparator).Any(directory => File.Exists(Path.Combine(directory, "wrk"))))
        {
            throw Missing();
        }
    }

    private static MissingPrerequisiteException Missing() => new("wrk is not installed: apt-get install wrk (this scenario drives HTTP load with it)");

    private static double Number(Regex pattern, string output) => double.Parse(pattern.Match(output).Groups[1].Value, CultureInfo.InvariantCulture);

    private static double Latency(string percentile, string output)
    {
        var match = Regex.Match(output, $@"^\s+{Regex.Escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        return ToMs(match);
    }

    private static double MaxLatency(string output) => ToMs(MaxPattern().Match(output));

    private static double ToMs(Match match)
    {
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex TotalRequests();

    [GeneratedRegex(@"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)")]
    private static partial Regex MaxPattern();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}

/// <summary>Something the bench needs is not on this machine: one line saying what to install, and a non-zero exit.</summary>
public sealed class MissingPrerequisiteException(string message) : Exception(message);
