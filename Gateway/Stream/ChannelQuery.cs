using System.Text.Json;

namespace Presence.Gateway.Stream;

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
