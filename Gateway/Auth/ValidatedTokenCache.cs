using System.Collections.Concurrent;
using System.Security.Claims;

namespace Presence.Gateway.Auth;

/// <summary>
/// Tokens the JwtBearer handler has already validated (with the caller read from their claims), so a client that reuses its token (they all do) pays for
/// signature and claim validation once, not on every call. An entry is used only until the token's own expiry plus
/// the configured clock skew, exactly as long as the handler would accept it. Bounded: when full it starts over.
/// </summary>
public sealed class ValidatedTokenCache(TimeProvider time, int capacity = 100_000)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public bool TryGet(ReadOnlySpan<char> token, out ClaimsPrincipal principal, out Caller caller)
    {
        var found = TryGet(token, out var entry);
        (principal, caller) = found ? (entry.Principal, entry.Caller) : (null!, null!);
        return found;
    }

    /// <summary>Looks a token up as a span of its header: no copy of it per request.</summary>
    public bool TryGet(ReadOnlySpan<char> token, out Entry entry)
    {
        var entries = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        if (entries.TryGetValue(token, out entry!))
        {
            if (Accepts(entry))
            {
                return true;
            }
            entries.TryRemove(token, out _, out _);
        }
        return false;
    }

    /// <summary>Whether an entry found before is still within its token's lifetime.</summary>
    public bool Accepts(Entry entry) => entry.AcceptUntil > time.GetUtcNow();

    public void Add(string token, ClaimsPrincipal principal, Caller caller, DateTimeOffset acceptUntil)
    {
        if (_entries.Count >= capacity)
        {
            _entries.Clear();
        }
        _entries[token] = new Entry(principal, caller, acceptUntil);
    }

    public sealed record Entry(ClaimsPrincipal Principal, Caller Caller, DateTimeOffset AcceptUntil);
}
