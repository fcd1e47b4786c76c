using System.Text.Json;

namespace Presence.Gateway.Stream;

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
