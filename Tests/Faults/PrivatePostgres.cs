using System.Diagnostics;

using Presence.Tests.Support;

namespace Presence.Tests.Faults;

/// <summary>A PostgreSQL server of one test's own (scripts/pg.sh), so the test may stop and start it.</summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"presence-pg-{Guid.NewGuid():N}");

    public string ConnectionString { get; private set; } = "";

    public static async Task<PrivatePostgres> Create()
    {
        var postgres = new PrivatePostgres();
        await postgres.Start();
        return postgres;
    }

    /// <summary>Starts the server: the first time creates it, later times bring it back with its data.</summary>
    public async Task Start() => ConnectionString = (await Run("start")).Trim().Split('\n')[^1];

    public Task Stop() => Run("stop");

    public async ValueTask DisposeAsync()
    {
        await Stop();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<string> Run(string command)
    {
        var script = Path.Combine(TestEnvironment.RepositoryRoot, "scripts", "pg.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(_directory);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg.sh {command} failed: {await stderr}");
        }
        return await stdout;
    }
}
