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

/// <summary>Stream's user routes: queryUsers, upsertUsers, partialUpdateUsers.</summary>
public static partial class StreamChatApi
{
    /// <summary>queryUsers: users by id with their presence; with <c>presence</c>, the caller's socket watches them.</summary>
    public static async Task<Results<StreamChatOk<StreamUsersResponse>, StreamChatFailure>> QueryUsers(
        HttpContext http, IPresenceGrains presence, StreamChatConnections connections, PresenceEventHub hub, IOptions<RealtimeOptions> limits)
    {
        var started = Stopwatch.GetTimestamp();
        var caller = StreamChatAuth.Caller(http);
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
        var (connection, missing) = Connection(http, caller, connections);
        if (missing is not null)
        {
            return missing;
        }
        var found = await Task.WhenAll(query!.Ids.Select(id => presence.Get(caller.Tenant, id, own: id == caller.UserId, http.RequestAborted).AsTask()));
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
        return Ok(new StreamUsersResponse([.. page.Select(u => StreamChatUsers.Of(u, own: u.UserId == caller.UserId))], Duration(started)));
    }

    /// <summary>upsertUsers: each user's name and image become its profile; <c>invisible</c> its visibility. A user token upserts itself only.</summary>
    public static async Task<Results<StreamChatOk<StreamUpsertResponse>, StreamChatFailure>> UpsertUsers(
        HttpContext http, IPresenceGrains presence, StreamChatConnections connections, TimeProvider time, IOptions<GatewayHttpOptions> limits)
        => await ChangeUsers(http, presence, connections, time, limits, UserChange.ReadUpserts);

    /// <summary>partialUpdateUsers: <c>set</c> and <c>unset</c> of name, image and invisible. A user token updates itself only (17, 403).</summary>
    public static async Task<Results<StreamChatOk<StreamUpsertResponse>, StreamChatFailure>> PartialUpdateUsers(
        HttpContext http, IPresenceGrains presence, StreamChatConnections connections, TimeProvider time, IOptions<GatewayHttpOptions> limits)
        => await ChangeUsers(http, presence, connections, time, limits, UserChange.ReadPatches);

    private static async Task<Results<StreamChatOk<StreamUpsertResponse>, StreamChatFailure>> ChangeUsers(
        HttpContext http, IPresenceGrains presence, StreamChatConnections connections, TimeProvider time, IOptions<GatewayHttpOptions> limits,
        Func<JsonElement, (UserChange[]?, string?)> read)
    {
        var started = Stopwatch.GetTimestamp();
        var caller = StreamChatAuth.Caller(http);
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
        if (!caller.IsServer && changes!.FirstOrDefault(c => c.Id != caller.UserId) is { } other)
        {
            return StreamChatFailure.Forbidden($"{Targets.NotYours}: '{other.Id}' is not the token's user");
        }
        var users = new Dictionary<string, StreamUser>(StringComparer.Ordinal);
        foreach (var change in changes!)
        {
            var own = await change.ApplyAsync(presence.User(caller.Tenant, change.Id), http.RequestAborted);
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

    /// <summary>A user this service knows: seen at some time, or given a profile.</summary>
    private static bool Exists(UserPresence user) => user.LastSeenAt is not null || user.Status != PresenceStatus.Offline || user.Profile != UserProfile.Empty;

    private static IEnumerable<UserPresence> Sort(IEnumerable<UserPresence> users, string field, int direction) => field switch
    {
        "name" => direction > 0 ? users.OrderBy(u => u.Profile.Name, StringComparer.Ordinal) : users.OrderByDescending(u => u.Profile.Name, StringComparer.Ordinal),
        "online" => direction > 0 ? users.OrderBy(u => u.Status != PresenceStatus.Offline) : users.OrderByDescending(u => u.Status != PresenceStatus.Offline),
        "last_active" => direction > 0 ? users.OrderBy(u => u.LastSeenAt) : users.OrderByDescending(u => u.LastSeenAt),
        _ => direction > 0 ? users.OrderBy(u => u.UserId, StringComparer.Ordinal) : users.OrderByDescending(u => u.UserId, StringComparer.Ordinal),
    };
}
