namespace Presence.Gateway.Agora;

/// <summary><c>Presence:Agora</c>: the Agora Chat dialect.</summary>
public sealed class AgoraOptions
{
    public const string Section = "Presence:Agora";

    /// <summary>Calls per second allowed per app (tenant) on the Agora routes, on each gateway.</summary>
    public int CallsPerSecond { get; set; } = 50;

    /// <summary>How long a device status lasts unless it is set again.</summary>
    public TimeSpan DeviceTtl { get; set; } = TimeSpan.FromDays(1);
}
