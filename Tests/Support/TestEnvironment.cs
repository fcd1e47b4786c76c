using System.Net;
using System.Net.Sockets;

namespace Presence.Tests.Support;

/// <summary>What tests need from the machine: free ports, and where the repository and its builds are.</summary>
public static class TestEnvironment
{
    /// <summary>
    /// A port free now, and not handed out before in this run, from below the range the system gives outgoing
    /// connections: a port the system picked (port 0) is an ephemeral one, which a silo's or a client's outgoing
    /// connection may take before the process meant to listen on it starts (a gateway then cannot bind it).
    /// </summary>
    public static int FreePort()
    {
        var (first, last) = (20_000, EphemeralStart - 1);
        if (last - first < 1_000)
        {
            using var any = new TcpListener(IPAddress.Loopback, 0); // no room below the ephemeral range
            any.Start();
            return ((IPEndPoint)any.LocalEndpoint).Port;
        }
        lock (Issued)
        {
            for (var attempt = 0; attempt < 1_000; attempt++)
            {
                var port = Random.Shared.Next(first, last + 1);
                if (!Issued.Add(port))
                {
                    continue;
                }
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port) { ExclusiveAddressUse = true };
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                }
            }
        }
        throw new InvalidOperationException($"no free port between {first} and {last}");
    }

    private static readonly HashSet<int> Issued = [];

    /// <summary>The first port of the system's ephemeral range (Linux: net.ipv4.ip_local_port_range).</summary>
    private static int EphemeralStart { get; } = File.Exists("/proc/sys/net/ipv4/ip_local_port_range")
        && int.TryParse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], out var start)
        ? start
        : 49_152;

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>Where the build put a program next to this one: {Program}/bin/{Configuration}/{framework}.</summary>
    public static string BinDirectory(string program)
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return Path.Combine(RepositoryRoot, program, "bin", testBin.Parent!.Name, testBin.Name);
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Orleans.Presence.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
