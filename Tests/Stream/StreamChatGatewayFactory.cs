using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Presence.Tests.Support;

namespace Presence.Tests.Stream;

/// <summary>
/// The real gateway on Kestrel, a real socket and the machine's clock, with one Stream app (<see cref="Key"/>,
/// <see cref="Secret"/>): what Stream's SDK, a process outside the test, connects to.
/// </summary>
public sealed class StreamChatGatewayFactory : GatewayFactory
{
    public const string Key = "test-key";
    public const string Secret = "a-stream-app-secret-of-at-least-32-bytes";
    public const string OtherKey = "other-key";
    public const string OtherTenant = "acme";

    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    /// <summary>What one socket may watch here: small, so tests reach the limits.</summary>
    public const int MaxUsers = 8, MaxChannels = 3;

    public StreamChatGatewayFactory()
        : base(("Presence:Stream:Apps:" + Key + ":Secret", Secret),
            ("Presence:Stream:Apps:" + OtherKey + ":Secret", Secret + "-other"),
            ("Presence:Stream:Apps:" + OtherKey + ":Tenant", OtherTenant),
            ("Presence:Stream:AllowDevTokens", "true"),
            ("Presence:Realtime:DisconnectGrace", "00:00:02"),
            // Protocol pings every 10 s (a pong is awaited 20 s): a 10 s wait is tight on a loaded 2-core test host.
            ("Presence:Realtime:KeepAlive", "00:00:10"),
            ("Presence:Realtime:MaxUsersPerConnection", MaxUsers.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Presence:Realtime:MaxChannelsPerConnection", MaxChannels.ToString(System.Globalization.CultureInfo.InvariantCulture)))
    {
        RealClock = true;
        UseKestrel(0);
    }

    public Uri Address
    {
        get
        {
            StartServer();
            return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        }
    }
}

[CollectionDefinition(Name)]
public sealed class StreamChatCollection : ICollectionFixture<StreamChatGatewayFactory>
{
    public const string Name = "stream chat";
}
