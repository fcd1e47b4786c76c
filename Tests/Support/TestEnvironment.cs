using System.Net;
using System.Net.Sockets;

namespace Presence.Tests.Support;

/// <summary>What tests need from the machine: free ports, and where the repository and its builds are.</summary>
public static class TestEnvironment
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

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
