namespace Presence.Gateway.Auth;

/// <summary><c>Presence:Auth</c>: how bearer tokens are validated (HS256 JWTs).</summary>
public sealed class PresenceAuthOptions
{
    public const string Section = "Presence:Auth";
    public const int MinKeyBytes = 32;

    /// <summary>The HS256 key as text (its UTF-8 bytes are the key), at least 32 bytes. Env: Presence__Auth__SigningKey.</summary>
    public string? SigningKey { get; set; }

    /// <summary>When set, tokens must carry this <c>iss</c>.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, tokens must carry this <c>aud</c>.</summary>
    public string? Audience { get; set; }

    /// <summary>Tolerance on <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many validated tokens the gateway keeps, so a client reusing its token is not validated again; when full the
    /// cache starts over. About one per client session.
    /// </summary>
    public int TokenCacheCapacity { get; set; } = 100_000;
}
