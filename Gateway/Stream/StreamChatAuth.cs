namespace Presence.Gateway.Stream;

/// <summary>
/// Who calls a Stream REST route: the SDK sends its token raw in <c>Authorization</c> (no <c>Bearer </c>) with
/// <c>stream-auth-type: jwt</c>, and the app's <c>api_key</c> in the query.
/// </summary>
public static class StreamChatAuth
{
    private static readonly object CallerKey = new();

    /// <summary>Authenticates every call of a route group: refused in Stream's format, or its caller kept for <see cref="Caller"/>.</summary>
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var (caller, denied) = await AuthenticateAsync(http, http.RequestServices.GetRequiredService<StreamTokens>());
        if (denied is not null)
        {
            return denied;
        }
        http.Items[CallerKey] = caller;
        return await next(context);
    }

    /// <summary>The caller <see cref="Filter"/> authenticated.</summary>
    public static StreamCaller Caller(HttpContext http) => (StreamCaller)http.Items[CallerKey]!;

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
