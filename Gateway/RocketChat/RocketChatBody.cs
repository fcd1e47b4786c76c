using System.Text.Json;

namespace Presence.Gateway.RocketChat;

/// <summary>users.setStatus's JSON body: <c>{"status":"away","message":"...","userId":"..."}</c>, every field optional.</summary>
public sealed record RocketChatBody(string? Status, string? Message, string? UserId)
{
    public static async ValueTask<(RocketChatBody? Body, Failure<RocketChatDialect>? Error)> ReadAsync(HttpContext http, int maxBytes)
    {
        var (json, failure) = await RequestBody.ReadJsonAsync<RocketChatDialect>(http, maxBytes);
        if (failure is not null)
        {
            return (null, failure);
        }
        if (json.ValueKind != JsonValueKind.Object)
        {
            return (null, Failure<RocketChatDialect>.BadRequest("the body must be a JSON object: {\"status\":\"away\",\"message\":\"...\"}"));
        }
        string? status = null, message = null, userId = null;
        foreach (var property in json.EnumerateObject())
        {
            if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return (null, Failure<RocketChatDialect>.BadRequest($"{property.Name} must be a string"));
            }
            var value = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
            switch (property.Name)
            {
                case "status":
                    status = value;
                    break;
                case "message":
                    message = value;
                    break;
                case "userId":
                    userId = value;
                    break;
            }
        }
        return (new RocketChatBody(status, message, userId), null);
    }
}
