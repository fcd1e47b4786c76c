using System.Text.Json;

namespace Presence.Gateway.Stream;

/// <summary>A change to one user's fields (upsert or partial update): null leaves a field as it is; Clear* removes it.</summary>
public sealed record UserChange(string Id, string? Name, string? Image, bool? Invisible, bool ClearName = false, bool ClearImage = false)
{
    public const int MaxUsers = 100;

    /// <summary>
    /// Applies the change to the user, as an upsert, a partial update and a connect's <c>user_details</c> all do: its
    /// profile first (written only if it changes), then its visibility (only if it changes). Returns the own view.
    /// </summary>
    public async Task<Users.UserPresence> ApplyAsync(Users.IUserPresenceGrain user, CancellationToken cancellationToken)
    {
        var own = await user.Get(own: true, cancellationToken);
        var profile = own.Profile with
        {
            // A user upserted with its id alone exists from then on (queryUsers lists it): its username is its id, as every dialect shows it.
            Username = own.Profile.Username ?? Id,
            Name = ClearName ? null : Name ?? own.Profile.Name,
            AvatarUrl = ClearImage ? null : Image ?? own.Profile.AvatarUrl,
        };
        if (profile != own.Profile)
        {
            own = await user.SetProfile(profile, cancellationToken);
        }
        if (Invisible is { } invisible && invisible != own.Invisible)
        {
            own = await user.SetInvisible(invisible, cancellationToken);
        }
        return own;
    }

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
