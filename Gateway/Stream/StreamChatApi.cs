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

/// <summary>
/// Stream Chat's own protocol, for its published SDK (<c>new StreamChat(key, { baseURL })</c>) unchanged:
/// <c>/connect</c> (the socket), <c>GET /users</c>, <c>POST /users</c>, <c>PATCH /users</c>, <c>POST /channels</c>,
/// <c>POST /channels/{type}/{id}/query</c> and <c>/stop-watching</c>, all on the one presence model. Tokens are the
/// app's (<c>Presence:Stream:Apps</c>), not this service's. This service is not a message store: channels answer with
/// their members and watchers, and no messages.
/// </summary>
public static class StreamChatApi
{
    public static WebApplication MapStreamChatApi(this WebApplication app)
    {
        var dialect = StreamChatDialect.Instance;
        app.Services.GetRequiredService<DialectRegistry>().Add(dialect);
        var routes = app.MapGroup("")
            .AllowAnonymous() // the app's own tokens, checked by each route (StreamChatAuth)
            .WithTags(dialect.Name)
            .WithMetadata(new DialectMetadata(dialect));
        routes.MapGet(StreamChatDialect.ConnectPath, Connect).WithName("StreamChatConnect");
        routes.MapGet("/users", QueryUsers).WithName("StreamChatQueryUsers");
        routes.MapPost("/users", UpsertUsers).WithName("StreamChatUpsertUsers").ReadsBody<StreamChatDialect>();
        routes.MapPatch("/users", PartialUpdateUsers).WithName("StreamChatPartialUpdateUsers").ReadsBody<StreamChatDialect>();
        routes.MapPost("/channels", QueryChannels).WithName("StreamChatQueryChannels").ReadsBody<StreamChatDialect>();
        routes.MapPost("/channels/{type}/{id}/query", QueryChannel).WithName("StreamChatQueryChannel").ReadsBody<StreamChatDialect>();
        routes.MapPost("/channels/{type}/{id}/stop-watching", StopWatching).WithName("StreamChatStopWatching").ReadsBody<StreamChatDialect>();
        return app;
    }

    /// <summary>
    /// The socket. Always upgraded, as the SDK expects: a refused one gets one error frame (<c>{"error":{"code":40,...}}</c>)
    /// and closes with 1000, which the SDK does not retry; an accepted one is a presence stream like <c>/v1/stream</c>.
    /// </summary>
    public static async Task<Results<EventStream, EmptyHttpResult, StreamChatFailure>> Connect(HttpContext http, StreamTokens tokens)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return StreamChatFailure.BadRequest("this endpoint is a WebSocket: send an upgrade request (GET with Upgrade: websocket)");
        }
        var (connect, refusal) = await StreamChatConnect.ReadAsync(http.Request.Query, tokens);
        if (refusal is not null)
        {
            await RefuseAsync(http, refusal);
            return TypedResults.Empty;
        }
        return new EventStream(new StreamRequest([], []) { StreamChat = connect }, RealtimeApi.Transport.WebSocket);
    }

    /// <summary>Accepts the upgrade, sends the refusal as the one frame, and closes with 1000, as Stream does.</summary>
    public static async Task RefuseAsync(HttpContext http, StreamChatRefusal refusal)
    {
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.SendAsync(StreamChatEvents.Refusal(refusal.Code, refusal.Message, refusal.StatusCode),
                System.Net.WebSockets.WebSocketMessageType.Text, endOfMessage: true, patience.Token);
            await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "refused", patience.Token);
        }
        catch (Exception error) when (error is System.Net.WebSockets.WebSocketException or OperationCanceledException)
        {
            // The client left first.
        }
    }

    /// <summary>queryUsers: users by id with their presence; with <c>presence</c>, the caller's socket watches them.</summary>
    public static async Task<Results<StreamChatOk<StreamUsersResponse>, StreamChatFailure>> QueryUsers(
        HttpContext http, StreamTokens tokens, IPresenceGrains presence, StreamChatConnections connections, PresenceEventHub hub, IOptions<RealtimeOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var (caller, denied) = await StreamChatAuth.AuthenticateAsync(http, tokens);
        if (denied is not null)
        {
            return denied;
        }
        if (http.Request.Query["payload"] is not [{ } raw])
        {
            return StreamChatFailure.BadRequest("payload is required: the query as JSON");
        }
        var (payload, malformed) = RequestBody.ParseJson<StreamChatDialect>(System.Text.Encoding.UTF8.GetBytes(raw));
        if (malformed is not null)
        {
            return StreamChatFailure.BadRequest("payload must be JSON");
        }
        var (query, error) = UsersQuery.Read(payload);
        if (error is not null)
        {
            return StreamChatFailure.BadRequest(error);
        }
        var (connection, missing) = Connection(http, caller!, connections);
        if (missing is not null)
        {
            return missing;
        }
        var found = await Task.WhenAll(query!.Ids.Select(id => presence.Get(caller!.Tenant, id, own: id == caller.UserId, http.RequestAborted).AsTask()));
        IEnumerable<UserPresence> users = found.Where(Exists);
        foreach (var (field, direction) in query.Sort.Reverse())
        {
            users = Sort(users, field, direction);
        }
        var page = users.Skip(query.Offset).Take(query.Limit).ToArray();
        if (query.Presence && connection is not null && page.Length > 0
            && await hub.WatchMoreAsync(connection, [.. page.Select(u => u.UserId)], [], limits.Value, http.RequestAborted) == PresenceEventHub.WatchResult.TooMany)
        {
            return StreamChatFailure.BadRequest($"a connection watches at most {limits.Value.MaxUsersPerConnection} users");
        }
        return Ok(new StreamUsersResponse([.. page.Select(u => StreamChatUsers.Of(u, own: u.UserId == caller!.UserId))], Duration(started)));
    }

    /// <summary>upsertUsers: each user's name and image become its profile; <c>invisible</c> its visibility. A user token upserts itself only.</summary>
    public static async Task<Results<StreamChatOk<StreamUpsertResponse>, StreamChatFailure>> UpsertUsers(
        HttpContext http, StreamTokens tokens, IPresenceGrains presence, StreamChatConnections connections, TimeProvider time, IOptions<GatewayHttpOptions> limits)
        => await ChangeUsers(http, tokens, presence, connections, time, limits, UserChange.ReadUpserts);

    /// <summary>partialUpdateUsers: <c>set</c> and <c>unset</c> of name, image and invisible. A user token updates itself only (17, 403).</summary>
    public static async Task<Results<StreamChatOk<StreamUpsertResponse>, StreamChatFailure>> PartialUpdateUsers(
        HttpContext http, StreamTokens tokens, IPresenceGrains presence, StreamChatConnections connections, TimeProvider time, IOptions<GatewayHttpOptions> limits)
        => await ChangeUsers(http, tokens, presence, connections, time, limits, UserChange.ReadPatches);

    private static async Task<Results<StreamChatOk<StreamUpsertResponse>, StreamChatFailure>> ChangeUsers(
        HttpContext http, StreamTokens tokens, IPresenceGrains presence, StreamChatConnections connections, TimeProvider time, IOptions<GatewayHttpOptions> limits,
        Func<JsonElement, (UserChange[]?, string?)> read)
    {
        var started = Stopwatch.GetTimestamp();
        var (caller, denied) = await StreamChatAuth.AuthenticateAsync(http, tokens);
        if (denied is not null)
        {
            return denied;
        }
        var (body, bodyError) = await RequestBody.ReadJsonAsync<StreamChatDialect>(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return (StreamChatFailure)bodyError;
        }
        var (changes, error) = read(body);
        if (error is not null)
        {
            return StreamChatFailure.BadRequest(error);
        }
        if (!caller!.IsServer && changes!.FirstOrDefault(c => c.Id != caller.UserId) is { } other)
        {
            return StreamChatFailure.Forbidden($"{Targets.NotYours}: '{other.Id}' is not the token's user");
        }
        var users = new Dictionary<string, StreamUser>(StringComparer.Ordinal);
        foreach (var change in changes!)
        {
            var own = await Apply(presence.User(caller.Tenant, change.Id), change, http.RequestAborted);
            users[change.Id] = StreamChatUsers.Of(own, own: true);
            // The user's own sockets here learn of it (client.user follows user.updated); others see presence changes.
            var updated = StreamChatEvents.Updated(own, time.GetUtcNow());
            foreach (var connection in connections.Of(caller.Tenant, change.Id))
            {
                connection.Post(updated);
            }
        }
        return Ok(new StreamUpsertResponse(users, Duration(started)));
    }

    /// <summary>Applies a change to a user: its profile first, then its visibility. Returns the own view.</summary>
    private static async Task<UserPresence> Apply(IUserPresenceGrain user, UserChange change, CancellationToken cancellationToken)
    {
        var own = await user.Get(own: true, cancellationToken);
        var profile = own.Profile with
        {
            // A user upserted with its id alone exists from then on (queryUsers lists it): its username is its id, as every dialect shows it.
            Username = own.Profile.Username ?? change.Id,
            Name = change.ClearName ? null : change.Name ?? own.Profile.Name,
            AvatarUrl = change.ClearImage ? null : change.Image ?? own.Profile.AvatarUrl,
        };
        if (profile != own.Profile)
        {
            own = await user.SetProfile(profile, cancellationToken);
        }
        if (change.Invisible is { } invisible && invisible != own.Invisible)
        {
            own = await user.SetInvisible(invisible, cancellationToken);
        }
        return own;
    }

    /// <summary>channel.watch / query: adds <c>data.members</c>, watches with <c>watch</c> or <c>presence</c>, and answers the channel's state.</summary>
    public static async Task<Results<StreamChatOk<StreamChannelResponse>, StreamChatFailure>> QueryChannel(
        HttpContext http, string type, string id, StreamTokens tokens, IGrainFactory grains, IPresenceGrains presence, StreamChatConnections connections,
        PresenceEventHub hub, ChannelTypes channelTypes, IOptions<RealtimeOptions> realtime, IOptions<GatewayHttpOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var (caller, denied) = await StreamChatAuth.AuthenticateAsync(http, tokens);
        if (denied is not null)
        {
            return denied;
        }
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
        var (connection, missing) = Connection(http, caller!, connections);
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
        var channel = grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(caller!.Tenant, cid));
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
        HttpContext http, StreamTokens tokens, IGrainFactory grains, IPresenceGrains presence, StreamChatConnections connections,
        PresenceEventHub hub, ChannelTypes channelTypes, IOptions<RealtimeOptions> realtime, IOptions<GatewayHttpOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var (caller, denied) = await StreamChatAuth.AuthenticateAsync(http, tokens);
        if (denied is not null)
        {
            return denied;
        }
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
        var (connection, missing) = Connection(http, caller!, connections);
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
            var channel = grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(caller!.Tenant, cid));
            states.Add(await State(channel, caller, type, id, ChannelQuery.DefaultListed, ChannelQuery.DefaultWatchers, presence, channelTypes, http.RequestAborted));
        }
        return Ok(new StreamChannelsResponse([.. states], Duration(started)));
    }

    /// <summary>stopWatching: the caller's socket no longer watches the channel, and its user is no longer a watcher (unless another socket of it here is).</summary>
    public static async Task<Results<StreamChatOk<StreamDuration>, StreamChatFailure>> StopWatching(
        HttpContext http, string type, string id, StreamTokens tokens, StreamChatConnections connections, PresenceEventHub hub, IOptions<GatewayHttpOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var (caller, denied) = await StreamChatAuth.AuthenticateAsync(http, tokens);
        if (denied is not null)
        {
            return denied;
        }
        if (!StreamChatChannels.IsValid(type, id))
        {
            return StreamChatFailure.BadRequest(StreamChatChannels.InvalidCid);
        }
        var (_, bodyError) = await RequestBody.ReadBytesAsync<StreamChatDialect>(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return (StreamChatFailure)bodyError;
        }
        var (connection, missing) = Connection(http, caller!, connections);
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

    /// <summary>
    /// The caller's socket named by <c>connection_id</c>, if any is named. One that is not the caller's open socket on
    /// this gateway is refused (46): a watch must reach the gateway holding the socket.
    /// </summary>
    private static (StreamConnection?, StreamChatFailure?) Connection(HttpContext http, StreamCaller caller, StreamChatConnections connections)
    {
        if (http.Request.Query["connection_id"] is not [{ Length: > 0 } id] || caller.IsServer)
        {
            return (null, null);
        }
        return connections.Find(caller.Tenant, caller.UserId!, id) is { } connection
            ? (connection, null)
            : (null, new StreamChatFailure(StatusCodes.Status400BadRequest, StreamCodes.ConnectionIdNotFound,
                $"connection_id '{id}' is not an open connection of this user on this gateway (route a client's REST calls to the gateway of its socket)"));
    }

    /// <summary>A user this service knows: seen at some time, or given a profile.</summary>
    private static bool Exists(UserPresence user) => user.LastSeenAt is not null || user.Status != PresenceStatus.Offline || user.Profile != UserProfile.Empty;

    private static IEnumerable<UserPresence> Sort(IEnumerable<UserPresence> users, string field, int direction) => field switch
    {
        "name" => direction > 0 ? users.OrderBy(u => u.Profile.Name, StringComparer.Ordinal) : users.OrderByDescending(u => u.Profile.Name, StringComparer.Ordinal),
        "online" => direction > 0 ? users.OrderBy(u => u.Status != PresenceStatus.Offline) : users.OrderByDescending(u => u.Status != PresenceStatus.Offline),
        "last_active" => direction > 0 ? users.OrderBy(u => u.LastSeenAt) : users.OrderByDescending(u => u.LastSeenAt),
        _ => direction > 0 ? users.OrderBy(u => u.UserId, StringComparer.Ordinal) : users.OrderByDescending(u => u.UserId, StringComparer.Ordinal),
    };

    private static StreamChatOk<T> Ok<T>(T body) => new(body);

    /// <summary>Stream's <c>duration</c>: the time the call took, as <c>"1.23ms"</c>.</summary>
    private static string Duration(long started)
        => Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("0.00", CultureInfo.InvariantCulture) + "ms";
}
