using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;

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
        return app.UseMiddleware<CachedTokenAuthentication>().UseMiddleware<AuthenticatedCallerAuthorization>();
    }

    internal const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";
    internal const string AuthorizationMiddlewareSetKey = "__AuthorizationMiddlewareSet";

    private sealed class CachedTokenAuthentication(RequestDelegate next, IAuthenticationSchemeProvider schemes, ValidatedTokenCache tokens)
    {
        private readonly AuthenticationMiddleware _framework = new(next, schemes);

        public Task InvokeAsync(HttpContext context)
        {
            if (PresenceAuthExtensions.BearerToken(context.Request) is { } token && tokens.TryGet(token, out var principal, out var caller))
            {
                context.User = principal;
                Caller.Remember(context, caller);
                return next(context);
            }
            return _framework.Invoke(context);
        }
    }

    private sealed class AuthenticatedCallerAuthorization(RequestDelegate next, IAuthorizationPolicyProvider policies, IServiceProvider services)
    {
        private readonly AuthorizationMiddleware _framework = new(next, policies, services);
        private readonly ConcurrentDictionary<Endpoint, bool> _callerOnly = new();
        private readonly bool _defaultPolicyIsAuthenticatedUser = IsAuthenticatedUser(policies.GetDefaultPolicyAsync().GetAwaiter().GetResult());

        public Task InvokeAsync(HttpContext context)
        {
            if (context.User.Identity?.IsAuthenticated == true && context.GetEndpoint() is { } endpoint
                && _callerOnly.GetOrAdd(endpoint, NeedsOnlyTheDefaultPolicy) && _defaultPolicyIsAuthenticatedUser)
            {
                return next(context);
            }
            return _framework.Invoke(context);
        }

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
