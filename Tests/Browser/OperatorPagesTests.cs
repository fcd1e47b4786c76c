using System.Diagnostics;
using Microsoft.Playwright;
using Presence.Tests.Support;
using Xunit.Abstractions;

namespace Presence.Tests.Browser;

/// <summary>
/// The operator's pages in a real headless browser: the Orleans dashboard (behind its credential) and the Scalar
/// API reference render without console errors. Screenshots go to artifacts/browser for CI to keep.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class OperatorPagesTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string User = "operator";
    private const string Password = "browser-test-password-0123";

    private readonly int _port = TestEnvironment.FreePort();
    private Process? _gateway;

    public static string Artifacts { get; } = Path.Combine(TestEnvironment.RepositoryRoot, "artifacts", "browser");

    public async Task InitializeAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEnvironment.BinDirectory("Gateway"),
        };
        foreach (var arg in new[] { Path.Combine(TestEnvironment.BinDirectory("Gateway"), "Gateway.dll"), "--urls", Url, "--contentRoot", TestEnvironment.BinDirectory("Gateway") })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development"; // the Scalar page exists in Development only
        start.Environment["Presence__Auth__SigningKey"] = GatewayFactory.SigningKey;
        start.Environment["Presence__Silo__SiloPort"] = TestEnvironment.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Presence__Silo__GatewayPort"] = TestEnvironment.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Presence__Dashboard__Enabled"] = "true";
        start.Environment["Presence__Dashboard__Username"] = User;
        start.Environment["Presence__Dashboard__Password"] = Password;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        _gateway = Process.Start(start)!;
        _gateway.OutputDataReceived += (_, _) => { };
        _gateway.ErrorDataReceived += (_, _) => { };
        _gateway.BeginOutputReadLine();
        _gateway.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            try
            {
                if ((await http.GetAsync(Url + "/health/ready")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not up yet.
            }
            Assert.True(DateTime.UtcNow < deadline, "the gateway did not become ready");
            await Task.Delay(250);
        }
    }

    public Task DisposeAsync()
    {
        if (_gateway is { HasExited: false })
        {
            _gateway.Kill(entireProcessTree: true);
            _gateway.WaitForExit(10_000);
        }
        _gateway?.Dispose();
        return Task.CompletedTask;
    }

    private string Url => $"http://127.0.0.1:{_port}";

    [BrowserFact]
    public async Task The_orleans_dashboard_renders_behind_its_credential_without_console_errors()
    {
        // Without the credential: refused, and a browser is asked for one.
        using (var http = new HttpClient())
        {
            var refused = await http.GetAsync(Url + "/dashboard/");
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.StartsWith("Basic", refused.Headers.WwwAuthenticate.ToString());
        }
        await using var browser = await Browser.Launch();

        var context = await browser.Chromium.NewContextAsync(new() { HttpCredentials = new() { Username = User, Password = Password } });
        var page = await context.NewPageAsync();
        var errors = Watch(page);
        var response = await page.GotoAsync(Url + "/dashboard/", new() { WaitUntil = WaitUntilState.NetworkIdle });
        Assert.Equal(200, response!.Status);
        Assert.Equal("Orleans Dashboard", await page.TitleAsync());
        // The app renders the cluster's silos once its API answered.
        await page.WaitForFunctionAsync("() => /active silos\\s*[1-9]/i.test(document.body.innerText)", null, new() { Timeout = 30_000 });
        await Screenshot(page, "dashboard.png");
        Assert.True(errors.Count == 0, "console errors: " + string.Join(" | ", errors));
    }

    [BrowserFact]
    public async Task The_scalar_api_reference_renders_every_dialect_without_console_errors()
    {
        await using var browser = await Browser.Launch();
        var page = await browser.NewPageAsync();
        var errors = Watch(page);
        var response = await page.GotoAsync(Url + "/scalar/", new() { WaitUntil = WaitUntilState.NetworkIdle });
        Assert.Equal(200, response!.Status);
        await page.WaitForFunctionAsync("() => document.body.innerText.includes('rocket.chat') && document.body.innerText.includes('realtime')", null, new() { Timeout = 30_000 });
        await Screenshot(page, "scalar.png");
        Assert.True(errors.Count == 0, "console errors: " + string.Join(" | ", errors));
    }

    private List<string> Watch(IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.RequestFailed += (_, request) =>
        {
            lock (errors)
            {
                errors.Add($"request failed: {request.Url} ({request.Failure})");
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
        return errors;
    }

    private async Task Screenshot(IPage page, string name)
    {
        Directory.CreateDirectory(Artifacts);
        var path = Path.Combine(Artifacts, name);
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    /// <summary>Playwright driving the system's Chromium, headless.</summary>
    private sealed class Browser : IAsyncDisposable
    {
        private Browser(IPlaywright playwright, IBrowser chromium) => (Playwright, Chromium) = (playwright, chromium);

        public IPlaywright Playwright { get; }
        public IBrowser Chromium { get; }

        public static async Task<Browser> Launch()
        {
            var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
            var chromium = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = BrowserFactAttribute.Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-dev-shm-usage"],
            });
            return new Browser(playwright, chromium);
        }

        public Task<IPage> NewPageAsync() => Chromium.NewPageAsync();

        public async ValueTask DisposeAsync()
        {
            await Chromium.DisposeAsync();
            Playwright.Dispose();
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    public const string Name = "browser";
}
