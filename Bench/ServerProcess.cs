using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Presence.Bench;

/// <summary>A server under test in a process of its own, so wrk, the bench and the server never share a heap.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri url) => (_process, Url) = (process, url);

    public Uri Url { get; }

    /// <summary>The process's CPU time so far (user and system), from /proc.</summary>
    public TimeSpan CpuTime => CpuTimeOf(_process);

    /// <summary>A process's CPU time so far (user and system), from /proc.</summary>
    public static TimeSpan CpuTimeOf(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    /// <summary>CPU time spent over <paramref name="requests"/>, in whole microseconds per request.</summary>
    public static double MicrosPer(TimeSpan spent, long requests) => spent.TotalMicroseconds / Math.Max(1, requests);

    public static string MicrosPerRequest(TimeSpan spent, long requests)
        => MicrosPer(spent, requests).ToString("F0", CultureInfo.InvariantCulture);

    public static string Root { get; } = FindRoot();

    public static string Dll(string project) => Path.Combine(Root, project, "bin", "Release", "net10.0", project + ".dll");

    public static async Task<ServerProcess> Start(string dll, IEnumerable<string> args, IDictionary<string, string> environment, string readyPath)
    {
        var url = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        start.ArgumentList.Add(dll);
        foreach (var arg in args.Concat(["--urls", url.ToString().TrimEnd('/')]))
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[{Path.GetFileNameWithoutExtension(dll)}] {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, url);
        await server.WaitReady(readyPath);
        return server;
    }

    /// <summary>Resident memory of the server process, in MiB.</summary>
    public double ResidentMiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        return double.NaN;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }

    private async Task WaitReady(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 240; i++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{_process.StartInfo.ArgumentList[0]} exited with {_process.ExitCode}");
            }
            try
            {
                if ((await http.GetAsync(new Uri(Url, path))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"{Url} not ready");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Orleans.Presence.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("run the bench from the repository");
    }
}
