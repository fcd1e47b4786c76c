namespace Presence.Gateway.Hosting;

/// <summary><c>Presence:Http</c>: limits of the HTTP edge.</summary>
public sealed class GatewayHttpOptions
{
    public const string Section = "Presence:Http";

    /// <summary>Largest request body accepted; larger ones get 413 in the dialect's format.</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;
}
