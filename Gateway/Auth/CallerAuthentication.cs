using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Presence.Gateway.Auth;

/// <summary>
/// Who calls, and whether that is enough. The caller is established first: a token validated before
/// (<see cref="ValidatedTokenCache"/>, nearly every call) becomes the request's user at the cost of a lookup, and only a
/// new token goes through <see cref="AuthenticationHttpContextExtensions.AuthenticateAsync(HttpContext, string)"/>
/// (JwtBearer's validation). Then a settled call, one whose endpoint asks for nothing but an authenticated caller (or
/// for nothing) and which has that, goes straight on to the steps after authorization and its endpoint. Any other call
/// (no token, a token that failed, the dashboard's scheme and role, a policy of any kind) goes through the framework's
/// authentication and authorization middlewares as usual: 401 and 403 come from JwtBearer's challenge and forbid, in
/// the dialect's format. The framework's two middlewares would cost a settled call a request service scope, a handler
/// provider, an items dictionary and two suspended methods, about a sixth of an update's allocations (docs/benchmarks.md).
/// </summary>
public static class CallerAuthentication
{
    /// <summary>
    /// The caller, then the framework's authentication and authorization unless the call is settled, then
    /// <paramref name="afterAuthorization"/> (added twice: once for settled calls, once after the framework's
    /// middlewares) and the endpoint.
    /// </summary>
    public static IApplicationBuilder UsePresenceAuthentication(this IApplicationBuilder app, Action<IApplicationBuilder> afterAuthorization)
    {
        app.UseMiddleware<Middleware>();
        var settled = new SettledCalls(app.ApplicationServices.GetRequiredService<IOptions<AuthorizationOptions>>().Value);
        app.MapWhen(settled.IsSettled, branch =>
        {
            afterAuthorization(branch);
            // What the endpoint middleware does for an endpoint with no request size limit or antiforgery metadata: run it.
            branch.Run(context => context.GetEndpoint()!.RequestDelegate!(context));
        });
        app.UseAuthentication(); // authenticates nothing by itself here: no default scheme
        app.UseAuthorization();
        afterAuthorization(app);
        return app;
    }

    /// <summary>
    /// Which calls need nothing from the framework's authorization: those to an endpoint that asks for no more than an
    /// authenticated user (<c>RequireAuthorization()</c> with no policy, roles or schemes, under the default policy)
    /// from a caller this gateway established, and those to an endpoint that asks for nothing, or allows anonymous
    /// calls, while no fallback policy applies. An endpoint with a request size limit or antiforgery metadata is left to
    /// the endpoint middleware, which applies them. Each endpoint is classified once.
    /// </summary>
    internal sealed class SettledCalls(AuthorizationOptions options)
    {
        private enum Needs { Nothing, Caller, Framework }

        private readonly ConcurrentDictionary<Endpoint, Needs> _needs = new(ReferenceEqualityComparer.Instance);

        // Only the framework's own default: an authenticated user, by no scheme in particular.
        private readonly bool _plainDefault = options.FallbackPolicy is null && IsPlain(options.DefaultPolicy);

        public bool IsSettled(HttpContext context)
        {
            if (context.GetEndpoint() is not { RequestDelegate: not null } endpoint)
            {
                return false;
            }
            return _needs.GetOrAdd(endpoint, Classify) switch
            {
                Needs.Nothing => true,
                Needs.Caller => context.User is CallerPrincipal,
                _ => false,
            };
        }

        private Needs Classify(Endpoint endpoint)
        {
            var metadata = endpoint.Metadata;
            if (!_plainDefault || metadata.GetMetadata<AuthorizationPolicy>() is not null || metadata.GetMetadata<IAuthorizationRequirementData>() is not null
                // The endpoint middleware applies a request size limit, and refuses an endpoint that asks for antiforgery
                // validation without an antiforgery middleware: both left to it.
                || metadata.GetMetadata<IRequestSizeLimitMetadata>() is not null
                || metadata.GetMetadata<Microsoft.AspNetCore.Antiforgery.IAntiforgeryMetadata>() is { RequiresValidation: true })
            {
                return Needs.Framework;
            }
            var authorize = metadata.GetOrderedMetadata<IAuthorizeData>();
            if (authorize.Any(data => !string.IsNullOrEmpty(data.Policy) || !string.IsNullOrEmpty(data.Roles) || !string.IsNullOrEmpty(data.AuthenticationSchemes)))
            {
                return Needs.Framework;
            }
            return authorize.Count == 0 || metadata.GetMetadata<IAllowAnonymous>() is not null ? Needs.Nothing : Needs.Caller;
        }

        private static bool IsPlain(AuthorizationPolicy policy)
            => policy.AuthenticationSchemes.Count == 0 && policy.Requirements is [DenyAnonymousAuthorizationRequirement];
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
