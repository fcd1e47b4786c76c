using System.Text.Json;

namespace Presence.Gateway.Stream;

/// <summary>queryUsers' <c>payload</c>: users by id (<c>$eq</c>, <c>$in</c>), sorted, a page of them, and whether to watch them.</summary>
public sealed record UsersQuery(string[] Ids, (string Field, int Direction)[] Sort, int Limit, int Offset, bool Presence)
{
    public const int MaxIds = 100, MaxLimit = 100, DefaultLimit = 30, MaxOffset = 1000;

    public static readonly string[] SortFields = ["id", "name", "online", "last_active"];

    public static (UsersQuery? Query, string? Error) Read(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object)
        {
            return (null, "payload must be a JSON object");
        }
        if (!payload.TryGetProperty("filter_conditions", out var filter) || filter.ValueKind != JsonValueKind.Object)
        {
            return (null, "payload.filter_conditions is required: {\"id\":{\"$in\":[...]}}");
        }
        string[]? ids = null;
        foreach (var condition in filter.EnumerateObject())
        {
            if (condition.Name != "id" || ids is not null)
            {
                return (null, $"filter_conditions: only id is supported (with $eq or $in), not '{condition.Name}'");
            }
            (ids, var error) = IdsOf(condition.Value);
            if (error is not null)
            {
                return (null, error);
            }
        }
        if (ids is null)
        {
            return (null, "filter_conditions must name users by id: {\"id\":{\"$in\":[...]}}");
        }
        var sort = new List<(string, int)>();
        if (payload.TryGetProperty("sort", out var sorts) && sorts.ValueKind != JsonValueKind.Null)
        {
            if (sorts.ValueKind != JsonValueKind.Array)
            {
                return (null, "sort must be an array of {\"field\",\"direction\"}");
            }
            foreach (var entry in sorts.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("field", out var field) || field.ValueKind != JsonValueKind.String
                    || !SortFields.Contains(field.GetString()))
                {
                    return (null, $"sort: each entry is {{\"field\",\"direction\"}} with a field of {string.Join(", ", SortFields)}");
                }
                var direction = entry.TryGetProperty("direction", out var d) && d.ValueKind == JsonValueKind.Number && d.TryGetInt32(out var value) ? value : 1;
                if (direction is not (1 or -1))
                {
                    return (null, "sort: direction is 1 or -1");
                }
                sort.Add((field.GetString()!, direction));
            }
        }
        var (limit, limitError) = Number(payload, "limit", DefaultLimit, 1, MaxLimit);
        var (offset, offsetError) = Number(payload, "offset", 0, 0, MaxOffset);
        var (presence, presenceError) = Flag(payload, "presence");
        return (limitError ?? offsetError ?? presenceError) is { } problem
            ? (null, problem)
            : (new UsersQuery(ids, [.. sort], limit, offset, presence ?? false), null);
    }

    /// <summary><c>"x"</c>, <c>{"$eq":"x"}</c> or <c>{"$in":["x","y"]}</c>.</summary>
    private static (string[]? Ids, string? Error) IdsOf(JsonElement condition)
    {
        if (condition.ValueKind == JsonValueKind.String)
        {
            return Valid([condition.GetString()!]);
        }
        if (condition.ValueKind == JsonValueKind.Object && condition.EnumerateObject().ToList() is [var only])
        {
            if (only.Name == "$eq" && only.Value.ValueKind == JsonValueKind.String)
            {
                return Valid([only.Value.GetString()!]);
            }
            if (only.Name == "$in" && only.Value.ValueKind == JsonValueKind.Array)
            {
                if (only.Value.GetArrayLength() > MaxIds)
                {
                    return (null, $"filter_conditions.id.$in: at most {MaxIds} ids");
                }
                if (only.Value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                {
                    return (null, "filter_conditions.id.$in must be an array of user ids");
                }
                return Valid([.. only.Value.EnumerateArray().Select(v => v.GetString()!)]);
            }
        }
        return (null, "filter_conditions.id: a user id, {\"$eq\":id} or {\"$in\":[ids]} (other operators are not supported)");
    }

    private static (string[]?, string?) Valid(string[] ids)
        => ids.FirstOrDefault(id => !PresenceKeys.IsValidId(id)) is { } bad
            ? (null, $"'{bad}': {Targets.InvalidUserId}")
            : ([.. ids.Distinct(StringComparer.Ordinal)], null);

    public static (int Value, string? Error) Number(JsonElement body, string name, int fallback, int min, int max)
    {
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return (fallback, null);
        }
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value) && value >= min && value <= max
            ? (value, null)
            : (0, $"{name} must be a whole number from {min} to {max}");
    }

    public static (bool? Value, string? Error) Flag(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return (null, null);
        }
        return element.ValueKind is JsonValueKind.True or JsonValueKind.False ? (element.GetBoolean(), null) : (null, $"{name} must be true or false");
    }
}

/// <summary>channel.watch / query: members to add on the first query, what to watch, and the sizes of the state's lists.</summary>
public sealed record ChannelQuery(string[] Members, bool Watch, bool Presence, int MembersLimit, int MembersOffset, int WatchersLimit)
{
    public const int MaxMembers = 100, MaxListed = 300, DefaultListed = 100, DefaultWatchers = 30;

    public static (ChannelQuery? Query, string? Error) Read(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "the body must be a JSON object");
        }
        var members = new List<string>();
        if (body.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            && data.TryGetProperty("members", out var list) && list.ValueKind != JsonValueKind.Null)
        {
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() > MaxMembers)
            {
                return (null, $"data.members must be an array of at most {MaxMembers} user ids");
            }
            foreach (var member in list.EnumerateArray())
            {
                // An id, or a member object {"user_id"}.
                var id = member.ValueKind == JsonValueKind.String ? member.GetString()
                    : member.ValueKind == JsonValueKind.Object && member.TryGetProperty("user_id", out var userId) && userId.ValueKind == JsonValueKind.String ? userId.GetString()
                    : null;
                if (!PresenceKeys.IsValidId(id))
                {
                    return (null, $"data.members: {Targets.InvalidUserId}");
                }
                members.Add(id!);
            }
        }
        var (watch, watchError) = UsersQuery.Flag(body, "watch");
        var (presence, presenceError) = UsersQuery.Flag(body, "presence");
        var (membersLimit, membersOffset, limitError) = Page(body, "members", DefaultListed);
        var (watchersLimit, _, watchersError) = Page(body, "watchers", DefaultWatchers);
        return (watchError ?? presenceError ?? limitError ?? watchersError) is { } problem
            ? (null, problem)
            : (new ChannelQuery([.. members.Distinct(StringComparer.Ordinal)], watch ?? false, presence ?? false, membersLimit, membersOffset, watchersLimit), null);
    }

    /// <summary><c>{"limit","offset"}</c> of one of the state's lists.</summary>
    private static (int Limit, int Offset, string? Error) Page(JsonElement body, string name, int fallback)
    {
        if (!body.TryGetProperty(name, out var page) || page.ValueKind == JsonValueKind.Null)
        {
            return (fallback, 0, null);
        }
        if (page.ValueKind != JsonValueKind.Object)
        {
            return (0, 0, $"{name} must be {{\"limit\",\"offset\"}}");
        }
        var (limit, limitError) = UsersQuery.Number(page, "limit", fallback, 0, MaxListed);
        var (offset, offsetError) = UsersQuery.Number(page, "offset", 0, 0, 0);
        return (limit, offset, limitError is not null ? $"{name}.{limitError}" : offsetError is not null ? $"{name}.offset is not supported (0 only)" : null);
    }
}

/// <summary>queryChannels (the SDK's reconnect recovery): channels by cid, and whether to watch them.</summary>
public sealed record ChannelsQuery(string[] Cids, bool Watch, bool Presence)
{
    public const int MaxChannels = 30;

    public static (ChannelsQuery? Query, string? Error) Read(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "the body must be a JSON object");
        }
        if (!body.TryGetProperty("filter_conditions", out var filter) || filter.ValueKind != JsonValueKind.Object
            || filter.EnumerateObject().ToList() is not [{ Name: "cid" } cid])
        {
            return (null, "filter_conditions: only cid is supported: {\"cid\":{\"$in\":[...]}}");
        }
        string[] cids;
        if (cid.Value.ValueKind == JsonValueKind.String)
        {
            cids = [cid.Value.GetString()!];
        }
        else if (cid.Value.ValueKind == JsonValueKind.Object && cid.Value.EnumerateObject().ToList() is [{ Name: "$in" or "$eq" } op])
        {
            if (op.Value.ValueKind == JsonValueKind.String)
            {
                cids = [op.Value.GetString()!];
            }
            else if (op.Value.ValueKind == JsonValueKind.Array && op.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String))
            {
                cids = [.. op.Value.EnumerateArray().Select(v => v.GetString()!)];
            }
            else
            {
                return (null, $"filter_conditions.cid.{op.Name} must be a cid or an array of cids");
            }
        }
        else
        {
            return (null, "filter_conditions.cid: a cid, {\"$eq\":cid} or {\"$in\":[cids]}");
        }
        if (cids.Length > MaxChannels)
        {
            return (null, $"filter_conditions.cid: at most {MaxChannels} channels");
        }
        if (cids.FirstOrDefault(c => StreamChatChannels.Split(c) is null) is { } bad)
        {
            return (null, $"'{bad}' is not a cid ({{type}}:{{id}})");
        }
        var (watch, watchError) = UsersQuery.Flag(body, "watch");
        var (presence, presenceError) = UsersQuery.Flag(body, "presence");
        return (watchError ?? presenceError) is { } problem
            ? (null, problem)
            : (new ChannelsQuery([.. cids.Distinct(StringComparer.Ordinal)], watch ?? false, presence ?? false), null);
    }
}

/// <summary>A change to one user's fields (upsert or partial update): null leaves a field as it is; Clear* removes it.</summary>
public sealed record UserChange(string Id, string? Name, string? Image, bool? Invisible, bool ClearName = false, bool ClearImage = false)
{
    public const int MaxUsers = 100;

    /// <summary>upsertUsers: <c>{"users":{"alice":{"id":"alice","name",...}}}</c> (the map's key and the id agree).</summary>
    public static (UserChange[]? Changes, string? Error) ReadUpserts(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("users", out var users) || users.ValueKind != JsonValueKind.Object)
        {
            return (null, "users must be an object of users by id: {\"users\":{\"alice\":{\"id\":\"alice\"}}}");
        }
        var changes = new List<UserChange>();
        foreach (var entry in users.EnumerateObject())
        {
            if (changes.Count == MaxUsers)
            {
                return (null, $"at most {MaxUsers} users per call");
            }
            if (entry.Value.ValueKind != JsonValueKind.Object)
            {
                return (null, $"users.{entry.Name} must be a user object");
            }
            var id = entry.Value.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : entry.Name;
            if (id != entry.Name || !PresenceKeys.IsValidId(id))
            {
                return (null, $"users.{entry.Name}: {(id != entry.Name ? "id must be the user's key in users" : Targets.InvalidUserId)}");
            }
            var (change, error) = Fields(id!, entry.Value, $"users.{id}");
            if (error is not null)
            {
                return (null, error);
            }
            changes.Add(change!);
        }
        return (changes.ToArray(), null);
    }

    /// <summary>partialUpdateUsers: <c>{"users":[{"id","set":{...},"unset":["name"]}]}</c>.</summary>
    public static (UserChange[]? Changes, string? Error) ReadPatches(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("users", out var users) || users.ValueKind != JsonValueKind.Array)
        {
            return (null, "users must be an array of {\"id\",\"set\",\"unset\"}");
        }
        if (users.GetArrayLength() > MaxUsers)
        {
            return (null, $"at most {MaxUsers} users per call");
        }
        var changes = new List<UserChange>();
        foreach (var patch in users.EnumerateArray())
        {
            if (patch.ValueKind != JsonValueKind.Object || !patch.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String
                || !PresenceKeys.IsValidId(idElement.GetString()))
            {
                return (null, $"users: each is {{\"id\",\"set\",\"unset\"}} with a valid id ({Targets.InvalidUserId})");
            }
            var id = idElement.GetString()!;
            var change = new UserChange(id, null, null, null);
            if (patch.TryGetProperty("set", out var set) && set.ValueKind != JsonValueKind.Null)
            {
                if (set.ValueKind != JsonValueKind.Object)
                {
                    return (null, $"users[{id}].set must be an object");
                }
                var (fields, error) = Fields(id, set, $"users[{id}].set");
                if (error is not null)
                {
                    return (null, error);
                }
                change = fields!;
            }
            if (patch.TryGetProperty("unset", out var unset) && unset.ValueKind != JsonValueKind.Null)
            {
                if (unset.ValueKind != JsonValueKind.Array || unset.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                {
                    return (null, $"users[{id}].unset must be an array of field names");
                }
                foreach (var name in unset.EnumerateArray().Select(v => v.GetString()))
                {
                    change = name switch
                    {
                        "name" => change with { Name = null, ClearName = true },
                        "image" => change with { Image = null, ClearImage = true },
                        "invisible" => change with { Invisible = false },
                        _ => change, // fields this service does not keep
                    };
                }
            }
            changes.Add(change);
        }
        return (changes.ToArray(), null);
    }

    /// <summary>The fields this service keeps of a user: <c>name</c>, <c>image</c>, <c>invisible</c> (custom fields are not stored).</summary>
    private static (UserChange?, string?) Fields(string id, JsonElement user, string where)
    {
        string? name = null, image = null;
        bool? invisible = null;
        foreach (var (property, text) in new[] { ("name", 0), ("image", 1) })
        {
            if (user.TryGetProperty(property, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                if (value.ValueKind != JsonValueKind.String || value.GetString()!.Length > StreamChatConnect.MaxTextLength)
                {
                    return (null, $"{where}.{property} must be a string of at most {StreamChatConnect.MaxTextLength} characters");
                }
                _ = text == 0 ? name = value.GetString() : image = value.GetString();
            }
        }
        var (flag, error) = UsersQuery.Flag(user, "invisible");
        if (error is not null)
        {
            return (null, $"{where}.{error}");
        }
        invisible = flag;
        return (new UserChange(id, name, image, invisible), null);
    }
}
