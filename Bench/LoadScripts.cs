using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Bench;

/// <summary>wrk Lua scripts over N distinct users, each with a valid JWT of its own.</summary>
public sealed class LoadScripts
{
    public const string SigningKey = "bench-signing-key-0123456789-abcdefghijklmn";

    private LoadScripts(string directory) => Directory = directory;

    public string Directory { get; }
    public string Update => Path.Combine(Directory, "update.lua");
    public string Read => Path.Combine(Directory, "read.lua");
    public string List => Path.Combine(Directory, "list.lua");

    private static readonly JsonWebTokenHandler Handler = new();
    private static readonly SigningCredentials Credentials = new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256);

    /// <summary>A token for <paramref name="sub"/>, valid for six hours; an admin token acts for any user of its tenant.</summary>
    public static string Token(string sub, bool admin = false, string? tenant = null) => Handler.CreateToken(new SecurityTokenDescriptor
    {
        Subject = new ClaimsIdentity(admin
            ? [new Claim("sub", sub), new Claim("role", "admin")]
            : tenant is null ? [new Claim("sub", sub), new Claim("username", "user-" + sub)]
            : [new Claim("sub", sub), new Claim("username", "user-" + sub), new Claim("tenant", tenant)]),
        Expires = DateTime.UtcNow.AddHours(6),
        SigningCredentials = Credentials,
    });

    /// <summary>The Stream Chat app the bench's gateways serve (<c>Presence:Stream:Apps</c>).</summary>
    public const string StreamApiKey = "bench", StreamSecret = "bench-stream-secret-0123456789-abcdefgh";

    private static readonly SigningCredentials StreamCredentials = new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(StreamSecret)), SecurityAlgorithms.HmacSha256);

    /// <summary>A Stream user token as the SDK's server client makes it: HS256 over <c>{"user_id"}</c>.</summary>
    public static string StreamToken(string userId) => Handler.CreateToken(new SecurityTokenDescriptor
    {
        Claims = new Dictionary<string, object> { ["user_id"] = userId },
        SigningCredentials = StreamCredentials,
    });

    public static LoadScripts Create(int users)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("presence-bench-").FullName;
        var tokens = new StringBuilder("tokens = {\n");
        for (var i = 0; i < users; i++)
        {
            tokens.Append('"').Append(Token($"u{i}")).Append("\",\n");
        }
        tokens.Append("}\n");
        File.WriteAllText(Path.Combine(directory, "tokens.lua"), tokens.ToString());
        // Users are visited in a scrambled order (a prime stride), so consecutive requests hit different grains.
        var common = $"dofile(\"{Path.Combine(directory, "tokens.lua")}\")\nlocal n = #tokens\nlocal i = math.random(n)\n";
        File.WriteAllText(Path.Combine(directory, "update.lua"), common + """
            request = function()
              i = (i + 7919) % n
              return wrk.format("PUT", "/v1/users/me/presence", {["Authorization"] = "Bearer " .. tokens[i + 1], ["Content-Type"] = "application/x-www-form-urlencoded"}, "presence=online")
            end
            """);
        File.WriteAllText(Path.Combine(directory, "read.lua"), common + """
            request = function()
              i = (i + 7919) % n
              return wrk.format("GET", "/v1/users/u" .. ((i * 31) % n) .. "/presence", {["Authorization"] = "Bearer " .. tokens[i + 1]})
            end
            """);
        // Each connection walks the online list page by page (pnut's count and before_id), starting over at the end.
        File.WriteAllText(Path.Combine(directory, "list.lua"), common + """
            local cursor = nil
            request = function()
              i = (i + 7919) % n
              local path = "/v1/presence?count=100"
              if cursor then path = path .. "&before_id=" .. cursor end
              return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tokens[i + 1]})
            end
            response = function(status, headers, body)
              cursor = string.match(body, '"min_id":"([^"]+)"')
            end
            """);
        return new LoadScripts(directory);
    }
}
