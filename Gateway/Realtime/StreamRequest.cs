using Microsoft.Extensions.Primitives;
using Presence.Gateway.Auth;
using Presence.Subscriptions;

namespace Presence.Gateway.Realtime;

/// <summary>What a stream asks to watch: <c>channels=a,b</c> and <c>users=x,y</c> (comma lists, or repeated).</summary>
public sealed record StreamRequest(string[] Users, string[] Channels)
{
    /// <summary>A Stream Chat SDK's <c>/connect</c>: its caller and details (null for this service's own streams).</summary>
    public Stream.StreamChatConnect? StreamChat { get; init; }

    public EventShape Shape => StreamChat is null ? EventShape.Realtime : EventShape.StreamChat;

    /// <summary>The transport a WebSocket of this request counts under in the metrics.</summary>
    public string WebSocketTransport => StreamChat is null ? "websocket" : "stream-chat";

    /// <summary>Reads and checks the query against the connection limits; channels of disabled types are accepted and never produce events.</summary>
    public static (StreamRequest? Request, Failure<StreamDialect>? Error) Read(IQueryCollection query, RealtimeOptions limits, ChannelTypes channelTypes)
    {
        var users = List(query["users"]);
        var channels = List(query["channels"]);
        if (users.FirstOrDefault(u => !PresenceKeys.IsValidId(u)) is { } badUser)
        {
            return (null, Failure<StreamDialect>.BadRequest($"users: '{badUser}' is not a valid user id (1-{PresenceKeys.MaxIdLength} letters, digits, '_', '.', ':', '-', '@')"));
        }
        if (channels.FirstOrDefault(c => !PresenceKeys.IsValidId(c, PresenceKeys.MaxChannelIdLength)) is { } badChannel)
        {
            return (null, Failure<StreamDialect>.BadRequest($"channels: '{badChannel}' is not a valid channel id (1-{PresenceKeys.MaxChannelIdLength} letters, digits, '_', '.', ':', '-', '@')"));
        }
        if (users.Length > limits.MaxUsersPerConnection)
        {
            return (null, Failure<StreamDialect>.BadRequest($"a connection watches at most {limits.MaxUsersPerConnection} users, asked for {users.Length}"));
        }
        if (channels.Length > limits.MaxChannelsPerConnection)
        {
            return (null, Failure<StreamDialect>.BadRequest($"a connection watches at most {limits.MaxChannelsPerConnection} channels, asked for {channels.Length}"));
        }
        return (new StreamRequest(users, [.. channels.Where(channelTypes.IsEnabled)]), null);
    }

    /// <summary>The users to watch: the query's and the caller's Agora subscriptions.</summary>
    public async Task<string[]> UsersWithSubscriptions(IGrainFactory grains, Caller caller, CancellationToken cancellationToken)
    {
        var subscriptions = await grains.GetGrain<IPresenceSubscriptionsGrain>(PresenceKeys.Of(caller.Tenant, caller.UserId))
            .List(0, int.MaxValue, cancellationToken);
        return subscriptions.Items.Length == 0 ? Users : [.. Users.Union(subscriptions.Items.Select(s => s.UserId), StringComparer.Ordinal)];
    }

    private static string[] List(StringValues values) =>
    [
        .. values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal),
    ];
}
