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
