using System.Security.Claims;

namespace Presence.Gateway.Auth;

/// <summary>Who is calling, from the validated token: everything a request may touch is in <see cref="Tenant"/>.</summary>
public sealed record Caller(string Tenant, string UserId, bool IsAdmin, UserProfile Profile)
{
    public const string TenantClaim = "tenant";
    public const string RoleClaim = "role";
    public const string AdminRole = "admin";

    /// <summary>Null when the principal lacks a valid <c>sub</c> or has a malformed <c>tenant</c>.</summary>
    public static Caller? FromPrincipal(ClaimsPrincipal principal)
    {
        var sub = principal.FindFirstValue("sub");
        var tenant = principal.FindFirstValue(TenantClaim) ?? PresenceKeys.DefaultTenant;
        if (!PresenceKeys.IsValidId(sub) || !PresenceKeys.IsValidTenant(tenant))
        {
            return null;
        }
        var profile = new UserProfile(
            principal.FindFirstValue("username"),
            principal.FindFirstValue("name"),
            principal.FindFirstValue("avatar"));
        return new Caller(tenant, sub!, principal.HasClaim(RoleClaim, AdminRole), profile);
    }

    /// <summary>
    /// A principal of just the claims a caller is read from, plus <c>exp</c>: what a request and the token cache keep
    /// of a validated token. The handler's own principal holds the decoded token object, several kilobytes for every
    /// cached token and every open stream.
    /// </summary>
    public ClaimsPrincipal ToPrincipal(string? exp)
    {
        var claims = new List<Claim>(7) { new("sub", UserId), new(TenantClaim, Tenant) };
        if (IsAdmin)
        {
            claims.Add(new Claim(RoleClaim, AdminRole));
        }
        AddIfPresent(claims, "username", Profile.Username);
        AddIfPresent(claims, "name", Profile.Name);
        AddIfPresent(claims, "avatar", Profile.AvatarUrl);
        AddIfPresent(claims, "exp", exp);
        return new CallerPrincipal(this, new ClaimsIdentity(claims, "Bearer", "sub", RoleClaim));

        static void AddIfPresent(List<Claim> claims, string type, string? value)
        {
            if (value is not null)
            {
                claims.Add(new Claim(type, value));
            }
        }
    }

    private static readonly object ItemKey = new();

    /// <summary>The caller of an authenticated request (cached per request).</summary>
    public static Caller Of(HttpContext context)
    {
        if (context.User is CallerPrincipal principal)
        {
            return principal.Caller;
        }
        if (context.Items.TryGetValue(ItemKey, out var cached) && cached is Caller caller)
        {
            return caller;
        }
        caller = FromPrincipal(context.User) ?? throw new InvalidOperationException("Endpoint requires an authenticated caller.");
        Remember(context, caller);
        return caller;
    }

    /// <summary>
    /// Sets the caller of this request (authentication already knows it). A request whose user is this caller's
    /// own principal needs nothing more: the common case costs no per-request items dictionary.
    /// </summary>
    public static void Remember(HttpContext context, Caller caller)
    {
        if (context.User is CallerPrincipal principal && ReferenceEquals(principal.Caller, caller))
        {
            return;
        }
        context.Items[ItemKey] = caller;
    }

    /// <summary>May this caller act for <paramref name="userId"/>: itself, or anyone of its tenant with an admin token.</summary>
    public bool MayActFor(string userId) => userId == UserId || IsAdmin;
}

/// <summary>The principal <see cref="Caller.ToPrincipal"/> makes: its claims, and the caller read from them.</summary>
public sealed class CallerPrincipal(Caller caller, ClaimsIdentity identity) : ClaimsPrincipal(identity)
{
    public Caller Caller { get; } = caller;
}
