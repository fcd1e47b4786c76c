using System.Text.Json;
using Presence.Gateway.Hosting;

namespace Presence.Gateway.RocketChat;

/// <summary>users.setStatus's JSON body: <c>{"status":"away","message":"...","userId":"..."}</c>, every field optional.</summary>
public sealed record RocketChatBody(string? Status, string? Message, string? UserId)
{
    private static readonly object ItemKey = new();

    /// <summary>Reads the body once: a call retried during a failover gets the same result again.</summary>
    public static Task<(RocketChatBody? Body, RocketChatFailure? Error)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
        => BoundedBody.ParseOnceAsync(request, ItemKey, maxBytes, cancellationToken, ReadOnceAsync);

    private static async Task<(RocketChatBody? Body, RocketChatFailure? Error)> ReadOnceAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, new RocketChatFailure(StatusCodes.Status415UnsupportedMediaType, "send the body as application/json"));
        }
        byte[]? bytes;
        try
        {
            bytes = await BoundedBody.ReadAsync(request, maxBytes, cancellationToken);
        }
        catch (EndOfStreamException)
        {
            return (null, RocketChatFailure.BadRequest("the body ended early"));
        }
        if (bytes is null)
        {
            return (null, new RocketChatFailure(StatusCodes.Status413PayloadTooLarge, $"the body is limited to {maxBytes} bytes"));
        }
        if (bytes.Length == 0)
        {
            return (null, RocketChatFailure.BadRequest("a JSON body is required: {\"status\":\"away\",\"message\":\"...\"}"));
        }
        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, RocketChatFailure.BadRequest("the body must be a JSON object"));
            }
            string? status = null, message = null, userId = null;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    return (null, RocketChatFailure.BadRequest($"{property.Name} must be a string"));
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
        catch (JsonException)
        {
            return (null, RocketChatFailure.BadRequest("the body is not valid JSON"));
        }
    }
}
