namespace Presence.Gateway.Hosting;

/// <summary><c>Presence:Http</c>: limits of the HTTP edge.</summary>
public sealed class GatewayHttpOptions
{
    public const string Section = "Presence:Http";

    /// <summary>Largest request body accepted; larger ones get 413 in the dialect's format.</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Origins whose browser pages may call this service (CORS), e.g. <c>https://chat.example.com</c>, or <c>*</c> for
    /// any. None by default: browsers then refuse cross-origin calls, and nothing is added to any response.
    /// </summary>
    public string[] CorsOrigins { get; set; } = [];

    /// <summary>
    /// <paramref name="origin"/> as browsers send it (<c>scheme://host[:port]</c>, lower case, no default port), or
    /// <c>*</c>; null when it is not an http(s) origin (a path, a query, credentials).
    /// </summary>
    public static string? Origin(string? origin)
    {
        if (origin == "*")
        {
            return origin;
        }
        return Uri.TryCreate(origin?.TrimEnd('/'), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            && uri.PathAndQuery == "/" && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0
            ? uri.GetLeftPart(UriPartial.Authority)
            : null;
    }
}
