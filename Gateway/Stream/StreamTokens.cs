using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Gateway.Stream;

/// <summary>Who a Stream token speaks for: a user of an app, or the app's server (any of its users).</summary>
public sealed record StreamCaller(string ApiKey, string Tenant, string? UserId, DateTimeOffset? Expires = null)
{
    public bool IsServer => UserId is null;
}

/// <summary>A refusal of a Stream token, with the error code Stream's SDK knows (40 expired, 43 signature, 2 api key...).</summary>
public sealed record StreamTokenError(int Code, string Message)
{
    public const int AccessKey = 2;
    public const int AuthenticationFailed = 5;
    public const int TokenExpired = 40;
    public const int TokenNotValidYet = 41;
    public const int TokenUsedBeforeIssuedAt = 42;
    public const int TokenSignatureInvalid = 43;
}

/// <summary>
/// Validates the tokens Stream's SDKs send: HS256 JWTs signed with the app's secret, carrying <c>user_id</c> (a user)
/// or <c>"server": true</c> (the app's server), with an optional <c>exp</c> and <c>iat</c>; and, only when
/// <c>Presence:Stream:AllowDevTokens</c> is on, the SDK's development tokens (an unsigned payload and the signature
/// <c>devtoken</c>).
/// </summary>
public sealed class StreamTokens(IOptions<StreamOptions> options, TimeProvider time)
{
    public const string DevSignature = "devtoken";

    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(5);
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly Dictionary<string, (StreamApp App, SymmetricSecurityKey Key)> _apps = options.Value.Apps
        .ToDictionary(a => a.Key, a => (a.Value, new SymmetricSecurityKey(Encoding.UTF8.GetBytes(a.Value.Secret ?? ""))), StringComparer.Ordinal);

    /// <summary>The caller of <paramref name="token"/> for the app <paramref name="apiKey"/>, or why not.</summary>
    public async ValueTask<(StreamCaller? Caller, StreamTokenError? Error)> ValidateAsync(string? apiKey, string? token)
    {
        if (apiKey is null || !_apps.TryGetValue(apiKey, out var app))
        {
            return (null, new(StreamTokenError.AccessKey, "api_key not found"));
        }
        if (string.IsNullOrEmpty(token) || token == "undefined")
        {
            return (null, new(StreamTokenError.AuthenticationFailed, "a token is required (authorization)"));
        }
        if (token.EndsWith("." + DevSignature, StringComparison.Ordinal))
        {
            return options.Value.AllowDevTokens
                ? DevToken(apiKey, app.App, token)
                : (null, new(StreamTokenError.TokenSignatureInvalid, "development tokens are not accepted (Presence:Stream:AllowDevTokens)"));
        }
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = app.Key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidateIssuerSigningKey = true,
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateLifetime = false, // below, on this service's clock, with Stream's codes
        });
        if (!result.IsValid)
        {
            return (null, result.Exception is SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException
                ? new(StreamTokenError.TokenSignatureInvalid, "the token's signature is not this app's")
                : new(StreamTokenError.AuthenticationFailed, "the token is not a valid JWT"));
        }
        // The signature holds: the claims are read from the payload itself, with Stream's meaning and codes.
        return Decode(((JsonWebToken)result.SecurityToken).EncodedPayload) is { } payload
            ? Claims(apiKey, app.App, payload, allowServer: true)
            : (null, new(StreamTokenError.AuthenticationFailed, "the token is not a valid JWT"));
    }

    /// <summary>A token's claims: <c>user_id</c> or <c>server</c>, and the times <c>exp</c>, <c>nbf</c> and <c>iat</c> on this service's clock.</summary>
    private (StreamCaller?, StreamTokenError?) Claims(string apiKey, StreamApp app, byte[] payload, bool allowServer)
    {
        if (RequestBody.ParseJson<Realtime.StreamDialect>(payload) is not (var claims, null))
        {
            return (null, new(StreamTokenError.AuthenticationFailed, "the token's payload is not JSON"));
        }
        if (claims.ValueKind != JsonValueKind.Object)
        {
            return (null, new(StreamTokenError.AuthenticationFailed, "the token's payload is not a JSON object"));
        }
        var now = time.GetUtcNow();
        if (!TimeClaim(claims, "exp", out var expires) || !TimeClaim(claims, "nbf", out var notBefore) || !TimeClaim(claims, "iat", out var issuedAt))
        {
            return (null, new(StreamTokenError.AuthenticationFailed, "exp, nbf and iat must be whole seconds since 1970"));
        }
        if (expires <= now - ClockSkew)
        {
            return (null, new(StreamTokenError.TokenExpired, "the token has expired"));
        }
        if (notBefore > now + ClockSkew)
        {
            return (null, new(StreamTokenError.TokenNotValidYet, "the token is not valid yet"));
        }
        if (issuedAt > now + ClockSkew)
        {
            return (null, new(StreamTokenError.TokenUsedBeforeIssuedAt, "the token is used before it was issued (iat)"));
        }
        if (allowServer && claims.TryGetProperty("server", out var server) && server.ValueKind == JsonValueKind.True)
        {
            return (new StreamCaller(apiKey, app.Tenant, null, expires), null);
        }
        if (!claims.TryGetProperty("user_id", out var userId) || userId.ValueKind != JsonValueKind.String)
        {
            return (null, new(StreamTokenError.AuthenticationFailed, "the token carries no user_id"));
        }
        return PresenceKeys.IsValidId(userId.GetString())
            ? (new StreamCaller(apiKey, app.Tenant, userId.GetString(), expires), null)
            : (null, new(StreamTokenError.AuthenticationFailed, $"the token's user_id is not a valid user id (1-{PresenceKeys.MaxIdLength} letters, digits, '_', '.', ':', '-', '@')"));
    }

    /// <summary>A time claim: absent (null), or whole seconds since 1970; false when it is something else.</summary>
    private static bool TimeClaim(JsonElement claims, string name, out DateTimeOffset? value)
    {
        value = null;
        if (!claims.TryGetProperty(name, out var claim))
        {
            return true;
        }
        if (claim.ValueKind == JsonValueKind.Number && claim.TryGetInt64(out var seconds)
            && seconds >= DateTimeOffset.MinValue.ToUnixTimeSeconds() && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            value = DateTimeOffset.FromUnixTimeSeconds(seconds);
            return true;
        }
        return false;
    }

    /// <summary>The SDK's <c>devToken(id)</c>: a fixed header, the payload in base64 (either alphabet, padded or not), and <c>devtoken</c>.</summary>
    private (StreamCaller?, StreamTokenError?) DevToken(string apiKey, StreamApp app, string token)
    {
        var parts = token.Split('.');
        return parts.Length == 3 && Decode(parts[1]) is { } payload
            ? Claims(apiKey, app, payload, allowServer: false)
            : (null, new(StreamTokenError.AuthenticationFailed, "the development token is malformed"));
    }

    private static byte[]? Decode(string segment)
    {
        var text = segment.TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var buffer = new byte[Base64Url.GetMaxDecodedLength(text.Length)];
        // The status form: TryDecodeFromChars throws on input that is not base64url, it does not answer false.
        return Base64Url.DecodeFromChars(text, buffer, out _, out var written) == System.Buffers.OperationStatus.Done ? buffer[..written] : null;
    }
}
