using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Gateway.Auth;

/// <summary>
/// Where the HS256 key comes from: <c>Presence:Auth:SigningKey</c>, or, in Development only when none is
/// configured, a key generated once and kept in a file of the current user so that the running gateway and the
/// <c>token</c> command agree.
/// </summary>
public static class SigningKeys
{
    public static string DevelopmentKeyPath => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
        "orleans-presence", "dev-signing-key");

    /// <summary>The configured key, or the development key; null when neither applies.</summary>
    public static string? Resolve(string? configured, bool isDevelopment, out bool generated)
    {
        generated = false;
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }
        if (!isDevelopment)
        {
            return null;
        }
        var path = DevelopmentKeyPath;
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
        File.WriteAllText(path, key);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        generated = true;
        return key;
    }

    public static SymmetricSecurityKey ToSecurityKey(string key) => new(Encoding.UTF8.GetBytes(key));

    /// <summary>Null when usable, else the one-line reason it is not.</summary>
    public static string? Problem(string? key) => key switch
    {
        null or "" => $"{PresenceAuthOptions.Section}:SigningKey is not set (env Presence__Auth__SigningKey); it is required outside Development.",
        _ when Encoding.UTF8.GetByteCount(key) < PresenceAuthOptions.MinKeyBytes
            => $"{PresenceAuthOptions.Section}:SigningKey is too short for HS256: at least {PresenceAuthOptions.MinKeyBytes} bytes are required.",
        _ => null,
    };
}
