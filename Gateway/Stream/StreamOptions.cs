namespace Presence.Gateway.Stream;

/// <summary>
/// <c>Presence:Stream</c>: the Stream Chat apps this gateway serves. Stream identifies an app by its api key and signs
/// its tokens with the app's secret; each app's users live in one tenant, shared with every other dialect.
/// </summary>
public sealed class StreamOptions
{
    public const string Section = "Presence:Stream";
    public const int MinSecretBytes = 32;

    /// <summary>By api key: <c>Presence:Stream:Apps:&lt;api_key&gt;:Secret</c> and <c>:Tenant</c>.</summary>
    public Dictionary<string, StreamApp> Apps { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Whether the SDK's development tokens (signature <c>devtoken</c>, no secret) are accepted. Never in production.</summary>
    public bool AllowDevTokens { get; set; }

    /// <summary>Every problem of the configuration, as one line each.</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var (key, app) in Apps)
        {
            if (!IsValidApiKey(key))
            {
                yield return $"{Section}:Apps: '{key}' is not an api key (1-64 letters, digits, '_' or '-').";
            }
            if (System.Text.Encoding.UTF8.GetByteCount(app.Secret ?? "") < MinSecretBytes)
            {
                yield return $"{Section}:Apps:{key}:Secret must be at least {MinSecretBytes} bytes.";
            }
            if (!PresenceKeys.IsValidTenant(app.Tenant))
            {
                yield return $"{Section}:Apps:{key}:Tenant must be 1-{PresenceKeys.MaxTenantLength} letters, digits, '_', '.', '-' or '/'.";
            }
        }
    }

    public static bool IsValidApiKey(string? key)
        => !string.IsNullOrEmpty(key) && key.Length <= 64 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}

/// <summary>One Stream app: the secret its tokens are signed with, and the tenant its users live in.</summary>
public sealed class StreamApp
{
    public string? Secret { get; set; }

    public string Tenant { get; set; } = PresenceKeys.DefaultTenant;
}
