namespace Presence.Tests.Support;

/// <summary>Unique ids per test, so tests sharing a cluster never see each other's users.</summary>
public static class Keys
{
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];

    public static string Tenant() => Unique("t");
}
