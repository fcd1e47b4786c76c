namespace Presence.Tests.Browser;

/// <summary>
/// A test that drives the Debian Chromium (<c>/usr/bin/chromium</c>; Playwright's own browser download is not
/// possible here). Without it the test is skipped, saying why, except in CI (<c>CI=true</c>), where it must run.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public const string Chromium = "/usr/bin/chromium";

    public BrowserFactAttribute()
    {
        if (!File.Exists(Chromium) && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"needs Chromium at {Chromium}: apt-get install chromium";
        }
    }
}
