using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Hosting;

/// <summary><c>Presence:Dashboard</c>: the Orleans dashboard at /dashboard, off unless enabled, never open.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Presence:Dashboard";
    public const int MinPasswordLength = 16;

    public bool Enabled { get; set; }

    /// <summary>A basic-auth credential for browsers.</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }
}

/// <summary>
/// <c>Presence:Operators:Tenant</c>: the tenant whose admin tokens may use what spans every tenant (the dashboard,
/// diagnostics). An app's admin token of any other tenant acts for its own users only.
/// </summary>
public static class Operators
{
    public const string TenantKey = "Presence:Operators:Tenant";

    public static bool IsOperator(Caller caller, IConfiguration configuration)
        => caller.IsAdmin && configuration[TenantKey] is { Length: > 0 } tenant && caller.Tenant == tenant;
}

/// <summary>
/// The Orleans dashboard on the gateway, enabled by configuration: every one of its routes requires either the
/// configured basic-auth credential or an admin token of the operators' tenant (the dashboard sees every tenant's
/// grains). Disabled, /dashboard does not exist.
/// </summary>
public static class DashboardAccess
{
    public const string Scheme = "PresenceDashboard";
    public const string Path = "/dashboard";

    public static WebApplicationBuilder AddPresenceDashboard(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(DashboardOptions.Section).Get<DashboardOptions>() ?? new DashboardOptions();
        if (!options.Enabled)
        {
            return builder;
        }
        var hasUser = !string.IsNullOrEmpty(options.Username);
        var hasPassword = !string.IsNullOrEmpty(options.Password);
        if (hasUser != hasPassword || (hasPassword && options.Password!.Length < DashboardOptions.MinPasswordLength))
        {
            throw new OptionsValidationException(DashboardOptions.Section, typeof(DashboardOptions),
                [$"{DashboardOptions.Section}: set both Username and Password (at least {DashboardOptions.MinPasswordLength} characters), or neither (operators' admin tokens only)."]);
        }
        if (!hasUser && string.IsNullOrEmpty(builder.Configuration[Operators.TenantKey]))
        {
            throw new OptionsValidationException(DashboardOptions.Section, typeof(DashboardOptions),
                [$"{DashboardOptions.Section}:Enabled needs a way in: Username and Password, or {Operators.TenantKey} for operators' admin tokens."]);
        }
        builder.Services.AddSingleton(options);
        builder.Services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, DashboardAuthenticationHandler>(Scheme, null);
        return builder;
    }

    public static WebApplication MapPresenceDashboard(this WebApplication app)
    {
        if (app.Services.GetService<DashboardOptions>() is not { Enabled: true })
        {
            return app;
        }
        app.Services.GetRequiredService<DialectRegistry>().Add(Path, PlainDialect.Instance);
        app.MapOrleansDashboard(Path)
            .RequireAuthorization(policy => policy.AddAuthenticationSchemes(Scheme).RequireRole(DashboardAuthenticationHandler.OperatorRole))
            .ExcludeFromDescription();
        return app;
    }
}

/// <summary>Lets in the configured basic-auth credential, or a bearer token with role=admin; asks browsers for the credential.</summary>
public sealed class DashboardAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    DashboardOptions dashboard,
    IConfiguration configuration) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return CheckBasic(header[6..].Trim());
        }
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            // A valid token authenticates; only an operator's admin token is let in, any other is forbidden (403).
            var bearer = await Context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
            if (!bearer.Succeeded)
            {
                return AuthenticateResult.Fail("invalid token");
            }
            var operatorToken = Caller.FromPrincipal(bearer.Principal) is { } caller && Operators.IsOperator(caller, configuration);
            var identity = new ClaimsIdentity(
                [new Claim("sub", bearer.Principal.FindFirstValue("sub") ?? ""), .. operatorToken ? [new Claim(Caller.RoleClaim, OperatorRole)] : Array.Empty<Claim>()],
                Scheme.Name, "sub", Caller.RoleClaim);
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
        }
        return AuthenticateResult.NoResult();
    }

    private AuthenticateResult CheckBasic(string encoded)
    {
        if (string.IsNullOrEmpty(dashboard.Username))
        {
            return AuthenticateResult.Fail("no dashboard credential is configured: use an operator's admin token");
        }
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return AuthenticateResult.Fail("malformed basic credential");
        }
        var colon = decoded.IndexOf(':');
        if (colon < 0 || !Same(decoded[..colon], dashboard.Username) || !Same(decoded[(colon + 1)..], dashboard.Password!))
        {
            return AuthenticateResult.Fail("wrong dashboard credential");
        }
        var identity = new ClaimsIdentity([new Claim("sub", dashboard.Username), new Claim(Caller.RoleClaim, OperatorRole)], Scheme.Name, "sub", Caller.RoleClaim);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    /// <summary>The role this scheme gives whoever may see the dashboard.</summary>
    public const string OperatorRole = "operator";

    /// <summary>Constant-time comparison: the time taken says nothing about how much of a guess was right.</summary>
    private static bool Same(string given, string expected)
        => CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Basic realm=\"Orleans.Presence dashboard\", charset=\"UTF-8\"";
        await PlainDialect.Instance.WriteErrorAsync(Context, StatusCodes.Status401Unauthorized, "the dashboard needs the configured credential or an operator's admin token");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
        => PlainDialect.Instance.WriteErrorAsync(Context, StatusCodes.Status403Forbidden, "the dashboard needs an admin token of the operators' tenant");
}
