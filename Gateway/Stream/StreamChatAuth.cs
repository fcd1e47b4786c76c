namespace Presence.Gateway.Stream;

/// <summary>
/// Who calls a Stream REST route: the SDK sends its token raw in <c>Authorization</c> (no <c>Bearer </c>) with
/// <c>stream-auth-type: jwt</c>, and the app's <c>api_key</c> in the query.
/// </summary>
public static class StreamChatAuth
{
    public static async ValueTask<(StreamCaller? Caller, StreamChatFailure? Failure)> AuthenticateAsync(HttpContext http, StreamTokens tokens)
    {
        if (http.Request.Headers["stream-auth-type"] is [{ } type] && type != "jwt")
        {
            return (null, new(StatusCodes.Status401Unauthorized, StreamCodes.AuthenticationFailed, "stream-auth-type must be jwt: anonymous users are not supported"));
        }
        var apiKey = http.Request.Query["api_key"] is [{ } key] ? key : null;
        var header = http.Request.Headers.Authorization is [{ } value] ? value : null;
        var token = header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : header;
        var (caller, error) = await tokens.ValidateAsync(apiKey, token);
        return error is null
            ? (caller, null)
            : (null, new StreamChatFailure(StatusCodes.Status401Unauthorized, error.Code, error.Message));
    }
}
