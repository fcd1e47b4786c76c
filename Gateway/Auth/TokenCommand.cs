using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Gateway.Auth;

/// <summary>
/// <c>dotnet run --project Gateway -- token --sub alice [--tenant t] [--role admin] [--username u] [--name n]
/// [--avatar url] [--lifetime 1.00:00:00]</c>: prints a token signed with the key the gateway would use
/// (same configuration sources, same development key file).
/// </summary>
public static class TokenCommand
{
    public static bool IsInvocation(string[] args) => args.Length > 0 && args[0] == "token";

    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                return Usage($"unexpected argument '{args[i]}'");
            }
            options[args[i][2..]] = args[++i];
        }
        if (!options.TryGetValue("sub", out var sub) || !PresenceKeys.IsValidId(sub))
        {
            return Usage("--sub <user id> is required (letters, digits, _ . : - @; at most 64)");
        }
        var lifetime = TimeSpan.FromDays(1);
        if (options.TryGetValue("lifetime", out var text) && (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out lifetime) || lifetime <= TimeSpan.Zero))
        {
            return Usage("--lifetime must be a positive duration such as 01:00:00");
        }

        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
            ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production";
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
        var auth = configuration.GetSection(PresenceAuthOptions.Section).Get<PresenceAuthOptions>() ?? new PresenceAuthOptions();
        var key = SigningKeys.Resolve(auth.SigningKey, environment == Environments.Development, out _);
        if (SigningKeys.Problem(key) is { } problem)
        {
            return Usage(problem);
        }

        var claims = new List<Claim> { new("sub", sub) };
        foreach (var name in new[] { "tenant", "role", "username", "name", "avatar" })
        {
            if (options.TryGetValue(name, out var value))
            {
                claims.Add(new Claim(name, value));
            }
        }
        var now = DateTime.UtcNow;
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            Issuer = auth.Issuer,
            Audience = auth.Audience,
            SigningCredentials = new SigningCredentials(SigningKeys.ToSecurityKey(key!), SecurityAlgorithms.HmacSha256),
        });
        Console.WriteLine(token);
        return 0;
    }

    private static int Usage(string problem)
    {
        Console.Error.WriteLine($"token: {problem}");
        Console.Error.WriteLine("usage: token --sub <user id> [--tenant <tenant>] [--role admin] [--username <u>] [--name <n>] [--avatar <url>] [--lifetime <d.hh:mm:ss>]");
        return 2;
    }
}
