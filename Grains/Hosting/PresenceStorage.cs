namespace Presence.Grains.Hosting;

/// <summary>Names of the storage providers the grains use; the silo registers them.</summary>
public static class PresenceStorage
{
    public const string Name = "presence";
}
