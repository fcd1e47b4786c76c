using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Presence.Gateway.Auth;
using Presence.Grains.Hosting;

namespace Presence.Gateway.Agora;

/// <summary>
/// Agora's per-app call limit: <see cref="AgoraOptions.CallsPerSecond"/> calls in each second of <paramref name="clock"/> (the machine's),
/// counted per app on each gateway. It keeps no timer (ASP.NET Core's rate limiter wakes every 100 ms, whether or not
/// any app calls): a window is started by the call that finds it stale, and an app that made no call for
/// <see cref="Forgotten"/> is dropped by a later call, so an idle gateway holds nothing per app and does nothing.
/// </summary>
internal sealed class AgoraCallLimit(IOptions<AgoraOptions> options, TimeProvider clock)
{
    /// <summary>Seconds without a call after which an app's window is dropped.</summary>
    private const long Forgotten = 10;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly long _start = clock.GetTimestamp();
    private long _swept;

    /// <summary>The marker of the endpoints the limit counts.</summary>
    public sealed class Limited
    {
        public static readonly Limited Instance = new();
    }

    /// <summary>Counts one call of <paramref name="app"/>; false when its current second is already full.</summary>
    public bool TryAcquire(string app)
    {
        var second = (long)clock.GetElapsedTime(_start).TotalSeconds;
        while (true)
        {
            var window = _windows.GetOrAdd(app, static _ => new Window());
            bool allowed;
            lock (window)
            {
                if (window.Dropped)
                {
                    continue; // dropped by a sweep meanwhile: count in the app's new window
                }
                if (window.Second != second)
                {
                    (window.Second, window.Count) = (second, 0);
                }
                allowed = window.Count < options.Value.CallsPerSecond;
                if (allowed)
                {
                    window.Count++;
                }
            }
            Sweep(second);
            return allowed;
        }
    }

    /// <summary>At most once per <see cref="Forgotten"/> seconds, by the call that comes: drops the apps gone quiet.</summary>
    private void Sweep(long second)
    {
        var swept = Volatile.Read(ref _swept);
        if (second - swept < Forgotten || Interlocked.CompareExchange(ref _swept, second, swept) != swept)
        {
            return;
        }
        foreach (var (app, window) in _windows)
        {
            lock (window)
            {
                if (second - window.Second < Forgotten)
                {
                    continue;
                }
                window.Dropped = true;
            }
            _windows.TryRemove(KeyValuePair.Create(app, window));
        }
    }

    /// <summary>Apps with a window kept (for tests).</summary>
    internal int Apps => _windows.Count;

    private sealed class Window
    {
        public long Second = -1;
        public int Count;
        public bool Dropped;
    }
}

/// <summary>Refuses calls past <see cref="AgoraCallLimit"/> with 429 in Agora's format, before the endpoint and its retries.</summary>
internal sealed class AgoraCallLimitMiddleware(RequestDelegate next, AgoraCallLimit limit, PresenceMetrics metrics)
{
    public Task InvokeAsync(HttpContext http)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<AgoraCallLimit.Limited>() is null)
        {
            return next(http);
        }
        var app = Caller.FromPrincipal(http.User)?.Tenant ?? "";
        if (limit.TryAcquire(app))
        {
            return next(http);
        }
        metrics.RateLimited(app);
        return AgoraDialect.Instance.WriteErrorAsync(http, StatusCodes.Status429TooManyRequests,
            "This request has reached the call frequency limit of this app; retry later.");
    }
}
