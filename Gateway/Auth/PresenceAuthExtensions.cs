using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Gateway.Auth;

public static class PresenceAuthExtensions
{
    /// <summary>
    /// Bearer JWTs (HS256) validated by the framework's JwtBearer handler; 401 and 403 are written in the dialect
    /// the request addressed. A token must carry a valid <c>sub</c>; <c>tenant</c> defaults to "default".
    /// </summary>
    public static WebApplicationBuilder AddPresenceAuth(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(PresenceAuthOptions.Section);
        var auth = section.Get<PresenceAuthOptions>() ?? new PresenceAuthOptions();
        var key = SigningKeys.Resolve(auth.SigningKey, builder.Environment.IsDevelopment(), out var generated);
        if (SigningKeys.Problem(key) is { } problem)
        {
            throw new OptionsValidationException(PresenceAuthOptions.Section, typeof(PresenceAuthOptions), [problem]);
        }
        if (auth.ClockSkew < TimeSpan.Zero)
        {
            throw new OptionsValidationException(PresenceAuthOptions.Section, typeof(PresenceAuthOptions),
                [$"{PresenceAuthOptions.Section}:ClockSkew must not be negative."]);
        }
        if (auth.TokenCacheCapacity < 1)
        {
            throw new OptionsValidationException(PresenceAuthOptions.Section, typeof(PresenceAuthOptions),
                [$"{PresenceAuthOptions.Section}:TokenCacheCapacity must be at least 1."]);
        }
        builder.Services.AddSingleton(new DevelopmentKeyNotice(string.IsNullOrEmpty(auth.SigningKey), generated));

        // The system clock, not the DI TimeProvider: the token handler checks lifetimes on the system clock too.
        builder.Services.AddSingleton(new ValidatedTokenCache(TimeProvider.System, auth.TokenCacheCapacity));
        builder.Services.AddAuthorization();
        // No scheme authenticates every request (CallerAuthentication establishes the caller, through JwtBearer only for
        // a token not seen before): no default scheme, and not the one scheme by default either (the switch is the
        // documented way to turn that .NET 7 behaviour off). JwtBearer answers challenges and forbids.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        builder.Services.AddAuthentication(options =>
        {
            options.DefaultChallengeScheme = JwtBearerDefaults.AuthenticationScheme;
            options.DefaultForbidScheme = JwtBearerDefaults.AuthenticationScheme;
        }).AddJwtBearer(options =>
        {
            options.MapInboundClaims = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                IssuerSigningKey = SigningKeys.ToSecurityKey(key!),
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                ValidateIssuerSigningKey = true,
                ValidateIssuer = !string.IsNullOrEmpty(auth.Issuer),
                ValidIssuer = auth.Issuer,
                ValidateAudience = !string.IsNullOrEmpty(auth.Audience),
                ValidAudience = auth.Audience,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                ClockSkew = auth.ClockSkew,
                NameClaimType = "sub",
                RoleClaimType = Caller.RoleClaim,
            };
            options.Events = new JwtBearerEvents
            {
                OnMessageReceived = context =>
                {
                    // Rocket.Chat clients send the token as X-Auth-Token; browsers open streams with ?access_token=.
                    if (string.IsNullOrEmpty(context.Request.Headers.Authorization) && AlternativeToken(context.Request) is { } alternative)
                    {
                        context.Token = alternative;
                    }
                    // A token validated before (and not expired since) skips validation: see ValidatedTokenCache. Requests
                    // meet the cache in CallerAuthentication first; this serves explicit AuthenticateAsync calls (the dashboard's).
                    if (BearerToken(context.Request) is { } token
                        && context.HttpContext.RequestServices.GetRequiredService<ValidatedTokenCache>().TryGet(token, out var principal, out var caller))
                    {
                        context.Principal = principal;
                        Caller.Remember(context.HttpContext, caller);
                        context.Success();
                    }
                    return Task.CompletedTask;
                },
                OnTokenValidated = context =>
                {
                    if (Caller.FromPrincipal(context.Principal!) is not { } caller)
                    {
                        context.Fail("token lacks a valid sub claim or has a malformed tenant claim");
                        return Task.CompletedTask;
                    }
                    Caller.Remember(context.HttpContext, caller);
                    context.Principal = caller.ToPrincipal(context.Principal!.FindFirst("exp")?.Value);
                    if (BearerToken(context.Request) is { } token && context.SecurityToken.ValidTo is var validTo && validTo > DateTime.MinValue)
                    {
                        context.HttpContext.RequestServices.GetRequiredService<ValidatedTokenCache>()
                            .Add(token, context.Principal!, caller, new DateTimeOffset(validTo, TimeSpan.Zero) + auth.ClockSkew);
                    }
                    return Task.CompletedTask;
                },
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    var message = ChallengeMessage(context);
                    var dialects = context.HttpContext.RequestServices.GetRequiredService<DialectRegistry>();
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await dialects.For(context.HttpContext).WriteErrorAsync(context.HttpContext, StatusCodes.Status401Unauthorized, message);
                },
                OnForbidden = context =>
                {
                    var dialects = context.HttpContext.RequestServices.GetRequiredService<DialectRegistry>();
                    return dialects.For(context.HttpContext).WriteErrorAsync(context.HttpContext, StatusCodes.Status403Forbidden, "forbidden");
                },
            };
        });
        return builder;
    }

    public const string AuthTokenHeader = "X-Auth-Token";

    /// <summary>The token of the request: a bearer token, Rocket.Chat's X-Auth-Token header, or a stream's access_token.</summary>
    private static string? BearerToken(HttpRequest request) => TokenOf(request) is { IsEmpty: false } token ? token.ToString() : null;

    /// <summary><see cref="BearerToken"/> as a span of the header it is in (empty when there is none).</summary>
    internal static ReadOnlySpan<char> TokenOf(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return AlternativeToken(request);
        }
        return Bearer(header);
    }

    /// <summary>The token of an Authorization header's value: a bearer token, trimmed; empty for any other scheme.</summary>
    internal static ReadOnlySpan<char> Bearer(string authorization)
        => authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Length > 7 ? authorization.AsSpan(7).Trim() : default;

    private static string? AlternativeToken(HttpRequest request)
    {
        if (request.Headers[AuthTokenHeader] is [{ Length: > 0 } headerToken])
        {
            return headerToken;
        }
        return Realtime.RealtimeApi.IsStreamPath(request.Path) ? Realtime.RealtimeApi.QueryToken(request.Query) : null;
    }

    private static string ChallengeMessage(JwtBearerChallengeContext context) => context.AuthenticateFailure switch
    {
        null when BearerToken(context.Request) is null => "missing bearer token: send Authorization: Bearer <token>",
        null => "invalid token",
        SecurityTokenExpiredException => "token expired",
        SecurityTokenNotYetValidException => "token not yet valid",
        SecurityTokenNoExpirationException => "token has no expiration (exp)",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "token signature is invalid",
        SecurityTokenInvalidIssuerException => "token issuer is not accepted",
        SecurityTokenInvalidAudienceException => "token audience is not accepted",
        SecurityTokenInvalidAlgorithmException => "token algorithm must be HS256",
        AuthenticationFailureException failure => failure.Message,
        _ => "invalid token",
    };
}

/// <summary>Whether the gateway runs on the development key, and whether it was just generated (for the start-up note).</summary>
public sealed record DevelopmentKeyNotice(bool UsesDevelopmentKey, bool Generated);
