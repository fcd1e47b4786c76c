using Presence.Tests.Support;

namespace Presence.Tests.Realtime;

/// <summary>A gateway with small realtime limits and one channel type ("muted") whose presence is switched off.</summary>
public sealed class RealtimeGatewayFactory() : GatewayFactory(
    ("Presence:Realtime:MaxUsersPerConnection", "5"),
    ("Presence:Realtime:MaxChannelsPerConnection", "3"),
    ("Presence:Realtime:MaxConnectionsPerUser", "3"),
    ("Presence:ChannelTypes:muted:Enabled", "false"));

[CollectionDefinition(Name)]
public sealed class RealtimeCollection : ICollectionFixture<RealtimeGatewayFactory>
{
    public const string Name = "realtime";
}
