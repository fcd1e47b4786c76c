using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Gateway.Hosting;
using Presence.Gateway.Realtime;
using Presence.Users;

namespace Presence.Gateway.Stream;

/// <summary>Stream's channel routes: a channel's query (watch), queryChannels (the reconnect recovery), stopWatching.</summary>
public static partial class StreamChatApi
{
    /// <summary>channel.watch / query: adds <c>data.members</c>, watches with <c>watch</c> or <c>presence</c>, and answers the channel's state.</summary>
    public static async Task<Results<StreamChatOk<StreamChannelResponse>, StreamChatFailure>> QueryChannel(
        HttpContext http, string type, string id, IGrainFactory grains, IPresenceGrains presence, StreamChatConnections connections,
        PresenceEventHub hub, ChannelTypes channelTypes, IOptions<RealtimeOptions> realtime, IOptions<GatewayHttpOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var caller = StreamChatAuth.Caller(http);
        if (!StreamChatChannels.IsValid(type, id))
        {
            return StreamChatFailure.BadRequest(StreamChatChannels.InvalidCid);
        }
        var (body, bodyError) = await RequestBody.ReadJsonAsync<StreamChatDialect>(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return (StreamChatFailure)bodyError;
        }
        var (query, error) = ChannelQuery.Read(body);
        if (error is not null)
        {
            return StreamChatFailure.BadRequest(error);
        }
        var (connection, missing) = Connection(http, caller, connections);
        if (missing is not null)
        {
            return missing;
        }
        var cid = type + ":" + id;
        var watching = (query!.Watch || query.Presence) && connection is not null && channelTypes.IsEnabled(cid);
        // Refused before anything changes.
        if (watching && TooManyChannels(connection!, [cid], realtime.Value) is { } tooMany)
        {
            return tooMany;
        }
        var channel = grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(caller.Tenant, cid));
        // Together: the channel commits concurrent joins in one write.
        await Task.WhenAll(query.Members.Select(member => channel.Subscribe(member, null, http.RequestAborted)));
        if (watching && await Watch(connection!, cid, hub, connections, realtime.Value, http.RequestAborted) is { } limited)
        {
            return limited;
        }
        var state = await State(channel, caller, type, id, query.MembersLimit, query.WatchersLimit, presence, channelTypes, http.RequestAborted);
        return Ok(StreamChannelResponse.Of(state, Duration(started)));
    }

    /// <summary>queryChannels, as the SDK's reconnect recovery sends it: the state of each channel by cid, watched again with <c>watch</c>.</summary>
    public static async Task<Results<StreamChatOk<StreamChannelsResponse>, StreamChatFailure>> QueryChannels(
        HttpContext http, IGrainFactory grains, IPresenceGrains presence, StreamChatConnections connections,
        PresenceEventHub hub, ChannelTypes channelTypes, IOptions<RealtimeOptions> realtime, IOptions<GatewayHttpOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var caller = StreamChatAuth.Caller(http);
        var (body, bodyError) = await RequestBody.ReadJsonAsync<StreamChatDialect>(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return (StreamChatFailure)bodyError;
        }
        var (query, error) = ChannelsQuery.Read(body);
        if (error is not null)
        {
            return StreamChatFailure.BadRequest(error);
        }
        var (connection, missing) = Connection(http, caller, connections);
        if (missing is not null)
        {
            return missing;
        }
        var watching = (query!.Watch || query.Presence) && connection is not null;
        // Refused before anything changes.
        if (watching && TooManyChannels(connection!, [.. query.Cids.Where(channelTypes.IsEnabled)], realtime.Value) is { } tooMany)
        {
            return tooMany;
        }
        var states = new List<StreamChannelState>();
        foreach (var cid in query.Cids)
        {
            var (type, id) = StreamChatChannels.Split(cid)!.Value;
            if (watching && channelTypes.IsEnabled(cid) && await Watch(connection!, cid, hub, connections, realtime.Value, http.RequestAborted) is { } limited)
            {
                return limited;
            }
            var channel = grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(caller.Tenant, cid));
            states.Add(await State(channel, caller, type, id, ChannelQuery.DefaultListed, ChannelQuery.DefaultWatchers, presence, channelTypes, http.RequestAborted));
        }
        return Ok(new StreamChannelsResponse([.. states], Duration(started)));
    }

    /// <summary>stopWatching: the caller's socket no longer watches the channel, and its user is no longer a watcher (unless another socket of it here is).</summary>
    public static async Task<Results<StreamChatOk<StreamDuration>, StreamChatFailure>> StopWatching(
        HttpContext http, string type, string id, StreamChatConnections connections, PresenceEventHub hub, IOptions<GatewayHttpOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var caller = StreamChatAuth.Caller(http);
        if (!StreamChatChannels.IsValid(type, id))
        {
            return StreamChatFailure.BadRequest(StreamChatChannels.InvalidCid);
        }
        var (_, bodyError) = await RequestBody.ReadBytesAsync<StreamChatDialect>(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return (StreamChatFailure)bodyError;
        }
        var (connection, missing) = Connection(http, caller, connections);
        if (missing is not null)
        {
            return missing;
        }
        var cid = type + ":" + id;
        if (connection is not null && connection.Channels.Contains(cid, StringComparer.Ordinal))
        {
            hub.Unwatch(connection, cid);
            await connections.StopWatchingAsync(connection, cid);
        }
        return Ok(new StreamDuration(Duration(started)));
    }

    /// <summary>The connection watches the channel (its members' presence and its watchers) and its user becomes a watcher.</summary>
    private static async Task<StreamChatFailure?> Watch(
        StreamConnection connection, string cid, PresenceEventHub hub, StreamChatConnections connections, RealtimeOptions limits, CancellationToken cancellationToken)
    {
        switch (await hub.WatchMoreAsync(connection, [], [cid], limits, cancellationToken))
        {
            case PresenceEventHub.WatchResult.TooMany:
                return TooMany(limits);
            case PresenceEventHub.WatchResult.Watching:
                // Also when it watched already: a watch that failed halfway is completed by its retry.
                await connections.WatchingAsync(connection, cid, cancellationToken);
                break;
        }
        return null;
    }

    /// <summary>Whether watching <paramref name="cids"/> would take the connection past its limit.</summary>
    private static StreamChatFailure? TooManyChannels(StreamConnection connection, string[] cids, RealtimeOptions limits)
        => connection.Channels.Length + cids.Count(c => !connection.Channels.Contains(c, StringComparer.Ordinal)) > limits.MaxChannelsPerConnection
            ? TooMany(limits)
            : null;

    private static StreamChatFailure TooMany(RealtimeOptions limits)
        => StreamChatFailure.BadRequest($"a connection watches at most {limits.MaxChannelsPerConnection} channels");

    /// <summary>A channel's state: its members (each with its user's presence), its watchers (members present in it) and their count.</summary>
    private static async Task<StreamChannelState> State(
        IChannelPresenceGrain channel, StreamCaller caller, string type, string id, int membersLimit, int watchersLimit,
        IPresenceGrains presence, ChannelTypes channelTypes, CancellationToken cancellationToken)
    {
        var cid = type + ":" + id;
        var info = await channel.GetInfo(caller.UserId ?? "", cancellationToken);
        var members = membersLimit == 0 ? new ChannelPage([], false) : await channel.ListSubscribers(null, membersLimit, cancellationToken);
        var users = await Task.WhenAll(members.Members.Select(m => presence.Get(caller.Tenant, m.UserId, own: m.UserId == caller.UserId, cancellationToken).AsTask()));
        var watchers = !channelTypes.IsEnabled(cid) || watchersLimit == 0 ? new ChannelPage([], false) : await channel.ListPresent(null, watchersLimit, cancellationToken);
        return new StreamChannelState(
            new StreamChannel(id, type, cid, info.Subscribers),
            [.. users.Select(u => new StreamMember(u.UserId, StreamChatUsers.Of(u, own: u.UserId == caller.UserId), "member"))],
            [.. watchers.Members.Select(m => StreamChatUsers.Of(m.UserId, m.Profile, m.Status, m.LastSeenAt, null))],
            channelTypes.IsEnabled(cid) ? info.Present : 0);
    }
}
