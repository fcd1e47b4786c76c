using Presence.Gateway.Realtime.Direct;

namespace Presence.Tests.Realtime;

/// <summary>
/// A test of streams served on their own sockets, which only Linux does (idle sockets wait in epoll); elsewhere
/// streams stay in Kestrel and the test is skipped, saying why, except in CI (<c>CI=true</c>), where it must run.
/// </summary>
public sealed class DirectStreamFactAttribute : FactAttribute
{
    public DirectStreamFactAttribute()
    {
        if (!IdleSockets.IsSupported && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Skip = "streams are served on their own sockets only on Linux (x64, arm64)";
        }
    }
}
