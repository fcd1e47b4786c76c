using System.Diagnostics;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>A gateway given a bad setting refuses to start, with one line saying what to fix.</summary>
public sealed class StartupValidationTests
{
    [Theory]
    [InlineData("Presence__Auth__SigningKey", "too-short", "SigningKey")]
    [InlineData("Presence__Storage__Provider", "postgres", "ConnectionStrings:presence")]
    [InlineData("ConnectionStrings__presence", "Host=127.0.0.1;Port", "ConnectionStrings:presence")]
    [InlineData("Presence__Auth__TokenCacheCapacity", "0", "TokenCacheCapacity")]
    [InlineData("Presence__Expiry__Default", "-00:01:00", "Presence:Expiry:Default")]
    [InlineData("Presence__Expiry__Default", "fifteen minutes", "Presence:Expiry:Default")]
    [InlineData("Presence__Realtime__DisconnectGrace", "-00:00:01", "DisconnectGrace")]
    [InlineData("Presence__Realtime__Lease", "00:00:01", "Lease")]
    [InlineData("Presence__ChannelTypes__muted__Enabled", "maybe", "muted")]
    [InlineData("Presence__Dashboard__Password", "short", "Presence:Dashboard")]
    [InlineData("Presence__Users__IdleActivation", "00:00:10", "IdleActivation")]
    [InlineData("Presence__Stream__Apps__key1__Secret", "too-short", "Presence:Stream:Apps:key1:Secret")]
    [InlineData("Presence__Stream__Apps__key1__Tenant", "/bad", "Presence:Stream:Apps:key1:Tenant")]
    [InlineData("Presence__Http__CorsOrigins__0", "https://chat.example.com/app", "Presence:Http:CorsOrigins")]
    public async Task A_bad_setting_stops_start_up_with_a_one_line_reason(string key, string value, string named)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEnvironment.BinDirectory("Gateway"),
        };
        start.ArgumentList.Add(Path.Combine(TestEnvironment.BinDirectory("Gateway"), "Gateway.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{TestEnvironment.FreePort()}");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Presence__Auth__SigningKey"] = GatewayFactory.SigningKey;
        start.Environment["Presence__Silo__SiloPort"] = TestEnvironment.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Presence__Silo__GatewayPort"] = TestEnvironment.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Presence__Dashboard__Enabled"] = "true";
        start.Environment["Presence__Dashboard__Username"] = "ops";
        start.Environment["Presence__Dashboard__Password"] = "a-long-enough-password";
        start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the gateway started despite {key}={value}");
        }
        Assert.Equal(1, process.ExitCode);
        var lines = (await error).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("Configuration error: ", line);
        Assert.Contains(named, line);
        Assert.DoesNotContain("Exception", await output);
    }
}
