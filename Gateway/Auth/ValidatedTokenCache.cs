using System.Collections.Concurrent;
using System.Security.Claims;

namespace Presence.Gateway.Auth;

/// <summary>
/// Tokens the JwtBearer handler has already validated, so a client that reuses its token (they all do) pays for
/// signature and claim validation once, not on every call. An entry is used only until the token's own expiry plus
/// the configured clock skew, exactly as long as the handler would accept it. Bounded: when full it starts over.
/// </summary>
public sealed class ValidatedTokenCache(TimeProvider time, int capacity = 100_000)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public bool TryGet(string token, out ClaimsPrincipal principal)
    {
        if (_entries.TryGetValue(token, out var entry))
        {
            if (entry.AcceptUntil > time.GetUtcNow())
            {
                principal = entry.Principal;
                return true;
            }
            _entries.TryRemove(token, out _);
        }
        principal = null!;
        return false;
    }

    public void Add(string token, ClaimsPrincipal principal, DateTimeOffset acceptUntil)
    {
        if (_entries.Count >= capacity)
        {
            _entries.Clear();
        }
        _entries[token] = new Entry(principal, acceptUntil);
    }

    private sealed record Entry(ClaimsPrincipal Principal, DateTimeOffset AcceptUntil);
}
