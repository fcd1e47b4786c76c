using System.Text.Json;
using Presence.Gateway.Auth;
using Presence.Gateway.Realtime;
using Presence.Users;

namespace Presence.Gateway.Stream;

/// <summary>A refusal of a <c>/connect</c> socket: sent as its only frame, then the socket closes with 1000.</summary>
public sealed record StreamChatRefusal(int Code, string Message, int StatusCode = StatusCodes.Status401Unauthorized);

/// <summary>
/// A <c>/connect</c> socket as the SDK opens it: everything is in the query (<c>api_key</c>, <c>authorization</c>, and
/// <c>json</c>: <c>{"user_id","user_details":{...},"client_request_id"}</c>). The user's name, image and
/// <c>invisible</c> in <c>user_details</c> are applied as it connects, as Stream's connectUser does.
/// </summary>
public sealed record StreamChatConnect(Caller Caller, string? Name, string? Image, bool? Invisible, DateTimeOffset? Expires)
{
    /// <summary>The most bytes of <c>json</c> read: a user's details, not a document.</summary>
    public const int MaxPayloadBytes = 4096;

    /// <summary>The connection's caller and details from its query, or why it is refused (in the SDK's terms).</summary>
    public static async ValueTask<(StreamChatConnect? Connect, StreamChatRefusal? Refusal)> ReadAsync(IQueryCollection query, StreamTokens tokens)
    {
        if (Single(query, "json") is not { } json)
        {
            return (null, new(StreamCodes.Input, "json is required: {\"user_id\",\"user_details\"}", StatusCodes.Status400BadRequest));
        }
        if (System.Text.Encoding.UTF8.GetByteCount(json) > MaxPayloadBytes)
        {
            return (null, new(StreamCodes.Input, $"json is too large: at most {MaxPayloadBytes} bytes", StatusCodes.Status400BadRequest));
        }
        var (caller, error) = await tokens.ValidateAsync(Single(query, "api_key"), Single(query, "authorization"));
        if (error is not null)
        {
            return (null, new(error.Code, error.Message));
        }
        if (caller!.IsServer)
        {
            return (null, new(StreamCodes.AuthenticationFailed, "a server token cannot connect: connect with a user token"));
        }
        var (payload, malformed) = RequestBody.ParseJson<StreamChatDialect>(System.Text.Encoding.UTF8.GetBytes(json));
        if (malformed is not null || payload.ValueKind != JsonValueKind.Object)
        {
            return (null, new(StreamCodes.Input, "json must be a JSON object: {\"user_id\",\"user_details\"}", StatusCodes.Status400BadRequest));
        }
        if (!payload.TryGetProperty("user_id", out var userId) || userId.ValueKind != JsonValueKind.String || userId.GetString() != caller.UserId)
        {
            return (null, new(StreamCodes.AuthenticationFailed, "json.user_id must be the token's user_id"));
        }
        string? name = null, image = null;
        bool? invisible = null;
        if (payload.TryGetProperty("user_details", out var details) && details.ValueKind == JsonValueKind.Object)
        {
            if (details.TryGetProperty("id", out var id) && (id.ValueKind != JsonValueKind.String || id.GetString() != caller.UserId))
            {
                return (null, new(StreamCodes.AuthenticationFailed, "user_details.id must be the token's user_id"));
            }
            var problem = Text(details, "name", out name) ?? Text(details, "image", out image) ?? Flag(details, "invisible", out invisible);
            if (problem is not null)
            {
                return (null, new(StreamCodes.Input, problem, StatusCodes.Status400BadRequest));
            }
        }
        var who = new Caller(caller.Tenant, caller.UserId!, IsAdmin: false, UserProfile.Empty);
        return (new StreamChatConnect(who, name, image, invisible, caller.Expires), null);
    }

    /// <summary>
    /// Holds the user online for this connection, after applying its details as an upsert does (the profile's name and
    /// image, and <c>invisible</c>, set before the hold, so an invisible user is never seen online). Returns the own view.
    /// </summary>
    public async Task<UserPresence> OpenAsync(HeldPresence held, IPresenceGrains presence, CancellationToken cancellationToken)
    {
        await new UserChange(Caller.UserId, Name, Image, Invisible).ApplyAsync(presence.User(Caller.Tenant, Caller.UserId), cancellationToken);
        return await held.OpenAsync(Caller, cancellationToken, keepProfile: true);
    }

    /// <summary>The longest name or image URL kept.</summary>
    public const int MaxTextLength = 512;

    private static string? Text(JsonElement details, string property, out string? value)
    {
        value = null;
        if (!details.TryGetProperty(property, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.String || element.GetString()!.Length > MaxTextLength)
        {
            return $"user_details.{property} must be a string of at most {MaxTextLength} characters";
        }
        value = element.GetString();
        return null;
    }

    private static string? Flag(JsonElement details, string property, out bool? value)
    {
        value = null;
        if (!details.TryGetProperty(property, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return $"user_details.{property} must be true or false";
        }
        value = element.GetBoolean();
        return null;
    }

    private static string? Single(IQueryCollection query, string name) => query[name] is [{ } value] ? value : null;
}
