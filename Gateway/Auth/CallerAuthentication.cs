using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Connections.Features;

namespace Presence.Gateway.Auth;

/// <summary>
/// The framework's authentication and authorization steps, each with a fast path for the request nearly every call
/// is: a token validated before (<see cref="ValidatedTokenCache"/>), on an endpoint that asks only for an authenticated
/// caller. That request skips the per-request handler, result and policy-evaluation objects of the two middlewares,
/// which profiles of the read path put at about a tenth of its CPU. Everything else (a new or failing token, the
/// dashboard's own scheme and roles, anonymous endpoints, any challenge or 403) goes through the framework's
/// middlewares unchanged.
/// </summary>
public static class CallerAuthentication
{
    /// <summary>
    /// In place of UseAuthentication and UseAuthorization. The two keys are the ones those methods set: without them,
    /// WebApplication adds the framework's middlewares again at the front of the pipeline.
    /// </summary>
    public static IApplicationBuilder UseCallerAuthentication(this IApplicationBuilder app)
    {
        app.Properties[AuthenticationMiddlewareSetKey] = true;
        app.Properties[AuthorizationMiddlewareSetKey] = true;
        return app.UseMiddleware<Middleware>();
    }

    internal const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";
    internal const string AuthorizationMiddlewareSetKey = "__AuthorizationMiddlewareSet";

    private static readonly object ConnectionTokenKey = new();

    private sealed record ConnectionToken(string Header, ValidatedTokenCache.Entry Entry);

    private sealed class Middleware
    {
        private readonly RequestDelegate _next;
        private readonly ValidatedTokenCache _tokens;
        private readonly AuthenticationMiddleware _frameworkAuthentication;
        private readonly AuthorizationMiddleware _frameworkAuthorization;
        private readonly ConcurrentDictionary<Endpoint, bool> _callerOnly = new();
        private readonly bool _defaultPolicyIsAuthenticatedUser;

        public Middleware(RequestDelegate next, IAuthenticationSchemeProvider schemes, IAuthorizationPolicyProvider policies,
            IServiceProvider services, ValidatedTokenCache tokens)
        {
            _next = next;
            _tokens = tokens;
            _frameworkAuthorization = new AuthorizationMiddleware(next, policies, services);
            _frameworkAuthentication = new AuthenticationMiddleware(AuthorizeAsync, schemes);
            _defaultPolicyIsAuthenticatedUser = IsAuthenticatedUser(policies.GetDefaultPolicyAsync().GetAwaiter().GetResult());
        }

        public Task InvokeAsync(HttpContext context)
        {
            if (Validated(context) is { } token)
            {
                context.User = token.Principal;
                Caller.Remember(context, token.Caller);
                return NeedsOnlyACaller(context) ? _next(context) : _frameworkAuthorization.Invoke(context);
            }
            return _frameworkAuthentication.Invoke(context); // then AuthorizeAsync
        }

        /// <summary>
        /// The request's token if it was validated before. An HTTP/1.x connection remembers its last Authorization
        /// header (a client sends the same one on every call of a keep-alive connection), so most calls compare one
        /// header instead of hashing the whole token for the shared cache.
        /// </summary>
        private ValidatedTokenCache.Entry? Validated(HttpContext context)
        {
            var header = context.Request.Headers.Authorization.ToString();
            // HTTP/1.x only: on HTTP/2 and HTTP/3 a connection's streams run concurrently over the same items.
            var connection = header.Length > 0 && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
                ? context.Features.Get<IConnectionItemsFeature>()?.Items
                : null;
            if (connection is not null && connection.TryGetValue(ConnectionTokenKey, out var last)
                && last is ConnectionToken remembered && remembered.Header == header && _tokens.Accepts(remembered.Entry))
            {
                return remembered.Entry;
            }
            if (!_tokens.TryGet(PresenceAuthExtensions.TokenOf(context.Request), out var entry))
            {
                return null;
            }
            if (connection is not null)
            {
                connection[ConnectionTokenKey] = new ConnectionToken(header, entry);
            }
            return entry;
        }

        private Task AuthorizeAsync(HttpContext context) => context.User.Identity?.IsAuthenticated == true && NeedsOnlyACaller(context)
            ? _next(context)
            : _frameworkAuthorization.Invoke(context);

        private bool NeedsOnlyACaller(HttpContext context) => _defaultPolicyIsAuthenticatedUser
            && context.GetEndpoint() is { } endpoint
            && _callerOnly.GetOrAdd(endpoint, NeedsOnlyTheDefaultPolicy);

        /// <summary>RequireAuthorization() with no policy, roles or schemes, and nothing else asking for more.</summary>
        private static bool NeedsOnlyTheDefaultPolicy(Endpoint endpoint)
        {
            var metadata = endpoint.Metadata;
            var authorize = metadata.GetOrderedMetadata<IAuthorizeData>();
            return authorize.Count > 0
                && authorize.All(a => a.Policy is null && a.Roles is null && a.AuthenticationSchemes is null)
                && metadata.GetMetadata<IAllowAnonymous>() is null
                && metadata.GetOrderedMetadata<AuthorizationPolicy>().Count == 0
                && metadata.GetOrderedMetadata<IAuthorizationRequirementData>().Count == 0;
        }

        private static bool IsAuthenticatedUser(AuthorizationPolicy policy)
            => policy.AuthenticationSchemes.Count == 0
            && policy.Requirements.Count == 1
            && policy.Requirements[0] is DenyAnonymousAuthorizationRequirement;
    }
}
