using System.Diagnostics;
using Presence.Tests.Support;
using Xunit.Abstractions;

namespace Presence.Tests.Stream;

/// <summary>
/// The published <c>stream-chat</c> SDK (9.53.0 from npm, pinned by Tests/StreamSdk/package-lock.json), unchanged,
/// through the scenario of the wire specification against the real gateway: Tests/StreamSdk/scenario.js.
/// </summary>
[Collection(StreamChatCollection.Name)]
public sealed class StreamSdkTests(StreamChatGatewayFactory factory, ITestOutputHelper output)
{
    [Fact]
    public async Task The_published_Stream_SDK_connects_unchanged_and_sees_presence_through_the_one_model()
    {
        var directory = SdkDirectory();
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "stream-chat")))
        {
            var (installed, log) = await Run("npm", "ci --no-audit --no-fund --ignore-scripts", directory, [], TimeSpan.FromMinutes(5));
            Assert.True(installed == 0, "npm ci failed:\n" + log);
        }
        var address = factory.Address.ToString().TrimEnd('/');
        var (exit, output1) = await Run("node", "scenario.js", directory,
        [
            ("BASE", address),
            ("KEY", StreamChatGatewayFactory.Key),
            ("SECRET", StreamChatGatewayFactory.Secret),
            ("GRACE_MS", ((int)StreamChatGatewayFactory.Grace.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("IDLE_MS", "70000"),
            ("PNUT_ALICE", GatewayFactory.Token("alice")),
            ("PNUT_CAROL", GatewayFactory.Token("carol")),
            ("STREAM_LOCAL_TEST_RUN", null),
            ("STREAM_LOCAL_TEST_HOST", null),
        ], TimeSpan.FromMinutes(4));
        output.WriteLine(output1);
        Assert.True(exit == 0, "the SDK scenario failed:\n" + output1);
        Assert.Contains("ok done", output1);
    }

    /// <summary>Tests/StreamSdk of the source tree the tests were built from.</summary>
    private static string SdkDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "Tests", "StreamSdk");
            if (File.Exists(Path.Combine(candidate, "package-lock.json")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("Tests/StreamSdk not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int Exit, string Output)> Run(string command, string arguments, string directory, (string Name, string? Value)[] environment, TimeSpan patience)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{command} {arguments} took more than {patience}:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
