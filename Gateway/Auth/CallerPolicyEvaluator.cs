using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Presence.Gateway.Auth;

/// <summary>
/// The authorization middleware's policy evaluator (an extension point it resolves from the request's services), with
/// the question nearly every request asks answered without evaluating anything: is this caller, established by
/// <see cref="CallerAuthentication"/>, allowed on an endpoint that asks only for an authenticated user? The framework's
/// evaluator answers everything else (the dashboard's scheme and role, a missing caller and its challenge), and would
/// answer this too, at the cost of a ticket, a result and an authorization context per request.
/// </summary>
public sealed class CallerPolicyEvaluator : IPolicyEvaluator
{
    private static readonly Task<PolicyAuthorizationResult> Allowed = Task.FromResult(PolicyAuthorizationResult.Success());

    public Task<AuthenticateResult> AuthenticateAsync(AuthorizationPolicy policy, HttpContext context)
        => policy.AuthenticationSchemes.Count == 0 && context.User is CallerPrincipal caller
            ? caller.Authenticated
            : Framework(context).AuthenticateAsync(policy, context);

    public Task<PolicyAuthorizationResult> AuthorizeAsync(AuthorizationPolicy policy, AuthenticateResult authenticationResult, HttpContext context, object? resource)
        => authenticationResult.Succeeded && context.User is CallerPrincipal && AsksOnlyForAnAuthenticatedUser(policy)
            ? Allowed
            : Framework(context).AuthorizeAsync(policy, authenticationResult, context, resource);

    private static PolicyEvaluator Framework(HttpContext context) => context.RequestServices.GetRequiredService<PolicyEvaluator>();

    /// <summary>RequireAuthorization() with no policy, roles or schemes: the default policy, a user who is authenticated.</summary>
    private static bool AsksOnlyForAnAuthenticatedUser(AuthorizationPolicy policy)
        => policy.AuthenticationSchemes.Count == 0 && policy.Requirements is [DenyAnonymousAuthorizationRequirement];
}
