using System.Text;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>What the first bytes of a connection say about it.</summary>
public enum HeadVerdict
{
    /// <summary>They may yet open a stream: wait for more.</summary>
    Incomplete,

    /// <summary>Anything but a plain stream request: Kestrel serves it.</summary>
    Elsewhere,

    /// <summary>A complete request opening a stream.</summary>
    Stream,
}

/// <summary>
/// The head of an HTTP/1.1 request that opens a stream (<c>GET /v1/events</c> or a WebSocket upgrade of
/// <c>GET /v1/stream</c>), read strictly: no body, no folded or non-ASCII header, one Host, CRLF line ends, at most
/// <see cref="MaxLength"/> bytes. Whatever this does not read as such a request is left to Kestrel untouched, and
/// answered there (with the realtime dialect's errors where it is a bad stream request).
/// </summary>
public sealed class StreamRequestHead
{
    /// <summary>The most bytes of a head read here; a longer one (a very long query) goes to Kestrel.</summary>
    public const int MaxLength = 8192;

    private const int MaxHeaders = 64;

    private StreamRequestHead(RealtimeApi.Transport transport, bool streamChat, int length, string query, string? authorization, string? authToken, string? webSocketKey, bool hasOrigin)
    {
        IsStreamChat = streamChat;
        HasOrigin = hasOrigin;
        Transport = transport;
        Length = length;
        Query = query;
        Authorization = authorization;
        AuthToken = authToken;
        WebSocketKey = webSocketKey;
    }

    public RealtimeApi.Transport Transport { get; }

    /// <summary>Stream Chat's <c>/connect</c> (a WebSocket whose token is in its query), not <c>/v1/stream</c>.</summary>
    public bool IsStreamChat { get; }

    /// <summary>Bytes of the head, up to and including the empty line that ends it.</summary>
    public int Length { get; }

    /// <summary>The request target's query, with its <c>?</c> (empty when there is none).</summary>
    public string Query { get; }

    public string? Authorization { get; }

    /// <summary>Rocket.Chat's <c>X-Auth-Token</c>.</summary>
    public string? AuthToken { get; }

    public string? WebSocketKey { get; }

    /// <summary>Whether the request names its origin (a browser's cross-origin request).</summary>
    public bool HasOrigin { get; }

    public static HeadVerdict Read(ReadOnlySpan<byte> data, out StreamRequestHead? head)
    {
        head = null;
        if (!MayOpenAStream(data))
        {
            return HeadVerdict.Elsewhere;
        }
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return data.Length >= MaxLength ? HeadVerdict.Elsewhere : HeadVerdict.Incomplete;
        }
        if (end + 4 > MaxLength)
        {
            return HeadVerdict.Elsewhere;
        }
        head = Parse(data[..(end + 2)], end + 4);
        return head is null ? HeadVerdict.Elsewhere : HeadVerdict.Stream;
    }

    /// <summary>Whether the bytes so far begin like <c>GET /v1/events</c>, <c>GET /v1/stream</c> or <c>GET /connect</c>.</summary>
    private static bool MayOpenAStream(ReadOnlySpan<byte> data)
        => StartsLike(data, "GET /v1/events"u8) || StartsLike(data, "GET /v1/stream"u8) || StartsLike(data, "GET /connect"u8);

    private static bool StartsLike(ReadOnlySpan<byte> data, ReadOnlySpan<byte> start)
    {
        var length = Math.Min(data.Length, start.Length);
        // The method is case-sensitive, the path is not (routing matches it in any case).
        return data[..Math.Min(length, 4)].SequenceEqual(start[..Math.Min(length, 4)])
            && Ascii.EqualsIgnoreCase(data[..length], start[..length]);
    }

    /// <summary>Reads the lines of a complete head (each ending in CRLF, the empty last one excluded).</summary>
    private static StreamRequestHead? Parse(ReadOnlySpan<byte> lines, int length)
    {
        var lineEnd = lines.IndexOf("\r\n"u8);
        var (transport, query, streamChat) = RequestLine(lines[..lineEnd]);
        if (transport is null)
        {
            return null;
        }
        var hosts = 0;
        var headers = 0;
        string? authorization = null, authToken = null, key = null, upgrade = null, connection = null, version = null, origin = null;
        for (lines = lines[(lineEnd + 2)..]; lines.Length > 0; lines = lines[(lineEnd + 2)..])
        {
            lineEnd = lines.IndexOf("\r\n"u8);
            var line = lines[..lineEnd];
            var colon = line.IndexOf((byte)':');
            if (++headers > MaxHeaders || colon <= 0 || !IsToken(line[..colon]) || !IsFieldValue(line[(colon + 1)..]))
            {
                return null;
            }
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "host"u8))
            {
                hosts++;
            }
            else if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!value.SequenceEqual("0"u8))
                {
                    return null; // a GET with a body: Kestrel decides what that means
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8) || Ascii.EqualsIgnoreCase(name, "expect"u8))
            {
                return null;
            }
            else if (!(Once(name, "authorization"u8, value, ref authorization)
                && Once(name, "x-auth-token"u8, value, ref authToken)
                && Once(name, "sec-websocket-key"u8, value, ref key)
                && Once(name, "upgrade"u8, value, ref upgrade)
                && Once(name, "sec-websocket-version"u8, value, ref version)
                && Once(name, "origin"u8, value, ref origin)))
            {
                return null;
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                connection = connection is null ? Encoding.ASCII.GetString(value) : connection + "," + Encoding.ASCII.GetString(value);
            }
        }
        if (hosts != 1)
        {
            return null;
        }
        var head = new StreamRequestHead(transport.Value, streamChat, length, query!, authorization, authToken, key, origin is not null);
        if (transport == RealtimeApi.Transport.Sse)
        {
            return upgrade is null && key is null ? head : null;
        }
        var upgrades = upgrade is not null && upgrade.Equals("websocket", StringComparison.OrdinalIgnoreCase)
            && connection is not null && connection.Split(',', StringSplitOptions.TrimEntries).Contains("upgrade", StringComparer.OrdinalIgnoreCase)
            && version == "13"
            && key is not null && WebSocketFrames.IsValidKey(key);
        return upgrades ? head : null;
    }

    /// <summary><c>GET {path}[?query] HTTP/1.1</c>, the path one of the stream routes (a trailing slash allowed).</summary>
    private static (RealtimeApi.Transport? Transport, string? Query, bool StreamChat) RequestLine(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("GET /"u8) || !line.EndsWith(" HTTP/1.1"u8))
        {
            return (null, null, false);
        }
        var target = line["GET ".Length..^" HTTP/1.1".Length];
        foreach (var b in target)
        {
            if (b is <= 0x20 or >= 0x7F)
            {
                return (null, null, false);
            }
        }
        var question = target.IndexOf((byte)'?');
        var path = question < 0 ? target : target[..question];
        var query = question < 0 ? "" : Encoding.ASCII.GetString(target[question..]);
        if (path.Length > 1 && path[^1] == '/')
        {
            path = path[..^1];
        }
        if (Ascii.EqualsIgnoreCase(path, "/v1/events"u8))
        {
            return (RealtimeApi.Transport.Sse, query, false);
        }
        if (Ascii.EqualsIgnoreCase(path, "/v1/stream"u8))
        {
            return (RealtimeApi.Transport.WebSocket, query, false);
        }
        return Ascii.EqualsIgnoreCase(path, "/connect"u8) ? (RealtimeApi.Transport.WebSocket, query, true) : (null, null, false);
    }

    /// <summary>
    /// Takes the header if it is <paramref name="wanted"/>; false when it comes twice (which of two tokens would be
    /// meant is Kestrel's to answer, not a guess here).
    /// </summary>
    private static bool Once(ReadOnlySpan<byte> name, ReadOnlySpan<byte> wanted, ReadOnlySpan<byte> value, ref string? slot)
    {
        if (!Ascii.EqualsIgnoreCase(name, wanted))
        {
            return true;
        }
        if (slot is not null)
        {
            return false;
        }
        slot = Encoding.ASCII.GetString(value); // only the headers read here become strings
        return true;
    }

    // RFC 9110 5.6.2: a header name is a token.
    private static bool IsToken(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b)))
            {
                return false;
            }
        }
        return true;
    }

    // Visible ASCII, spaces and tabs only: no obsolete folding, no bytes Kestrel might read differently.
    private static bool IsFieldValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (b is (< 0x20 and not 0x09) or >= 0x7F)
            {
                return false;
            }
        }
        return true;
    }
}
