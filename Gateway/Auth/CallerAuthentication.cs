using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Connections.Features;

namespace Presence.Gateway.Auth;

/// <summary>
/// Who calls: the framework's authentication and authorization middlewares, with the caller established in between.
/// No scheme authenticates every request by default (<see cref="PresenceAuthExtensions.AddPresenceAuth"/>): a token
/// validated before (<see cref="ValidatedTokenCache"/>, nearly every call) becomes the request's user at the cost of a
/// lookup, and only a new token goes through <see cref="AuthenticationHttpContextExtensions.AuthenticateAsync(HttpContext, string)"/>
/// (JwtBearer's validation). The authorization middleware then applies each endpoint's policy as usual: 401 and 403
/// come from JwtBearer's challenge and forbid, in the dialect's format. Authenticating every request through the
/// scheme's handler would cost a handler, a result and a ticket per request (docs/benchmarks.md).
/// </summary>
public static class CallerAuthentication
{
    public static IApplicationBuilder UsePresenceAuthentication(this IApplicationBuilder app)
    {
        app.UseAuthentication(); // authenticates nothing by itself here: no default scheme
        app.UseMiddleware<Middleware>();
        return app.UseAuthorization();
    }

    private static readonly object ConnectionTokenKey = new();

    private sealed record ConnectionToken(string Header, ValidatedTokenCache.Entry Entry);

    private sealed class Middleware(RequestDelegate next, ValidatedTokenCache tokens)
    {
        public Task InvokeAsync(HttpContext context)
        {
            if (Validated(context) is { } token)
            {
                context.User = token.Principal;
                Caller.Remember(context, token.Caller);
                return next(context);
            }
            return PresenceAuthExtensions.TokenOf(context.Request).IsEmpty ? next(context) : AuthenticateAsync(context);
        }

        /// <summary>A token not validated before: JwtBearer validates it (and remembers it, see its events).</summary>
        private async Task AuthenticateAsync(HttpContext context)
        {
            var result = await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
            if (result.Succeeded)
            {
                context.User = result.Principal;
            }
            await next(context);
        }

        /// <summary>
        /// The request's token if it was validated before. An HTTP/1.x connection remembers its first accepted
        /// Authorization header (a client sends the same one on every call of a keep-alive connection), so most calls
        /// compare one header instead of hashing the whole token for the shared cache. Another token on the same
        /// connection (a backend calling for many users over a pooled connection) takes the shared cache and is not
        /// remembered in its place until the first one is no longer accepted: remembering each call's token stored a
        /// new header and record into the long-lived connection per call, which every young-generation collection then
        /// had to keep (docs/benchmarks.md).
        /// </summary>
        private ValidatedTokenCache.Entry? Validated(HttpContext context)
        {
            var header = context.Request.Headers.Authorization.ToString();
            // HTTP/1.x only: on HTTP/2 and HTTP/3 a connection's streams run concurrently over the same items.
            var connection = header.Length > 0 && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
                ? context.Features.Get<IConnectionItemsFeature>()?.Items
                : null;
            var remembered = connection is not null && connection.TryGetValue(ConnectionTokenKey, out var item) && item is ConnectionToken token
                && tokens.Accepts(token.Entry) ? token : null;
            if (remembered is not null && remembered.Header == header)
            {
                return remembered.Entry;
            }
            if (!tokens.TryGet(PresenceAuthExtensions.TokenOf(context.Request), out var entry))
            {
                return null;
            }
            if (connection is not null && remembered is null)
            {
                connection[ConnectionTokenKey] = new ConnectionToken(header, entry);
            }
            return entry;
        }
    }
}
