using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Orleans.Reminders;
using Orleans.TestingHost;

namespace Presence.Tests.Support;

/// <summary>
/// The real gateway (co-hosted silo, in-memory storage) in a test server, on free silo ports and a fake clock.
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>
{
    public const string SigningKey = "test-signing-key-0123456789-abcdefghijklmnop";

    private readonly (string Key, string Value)[] _settings;

    public GatewayFactory()
        : this([])
    {
    }

    /// <summary>For a gateway with settings of its own (xunit wants a fixture's one public constructor parameterless).</summary>
    protected GatewayFactory(params (string Key, string Value)[] settings) => _settings = settings;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>Whether the gateway runs on the machine's clock (for clients outside the test, which cannot advance a fake one).</summary>
    protected bool RealClock { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Presence:Auth:SigningKey", SigningKey);
        builder.UseSetting("Presence:Silo:SiloPort", TestEnvironment.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Presence:Silo:GatewayPort", TestEnvironment.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Presence:Index:Shards", "4");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureTestServices(services =>
        {
            if (RealClock)
            {
                return;
            }
            services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Time));
            services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, Time);
        });
    }

    /// <summary>A client whose requests carry a token for <paramref name="sub"/>.</summary>
    public HttpClient ClientFor(string sub, string? tenant = null, string? role = null, string? username = null)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(sub, tenant, role, username));
        return client;
    }

    public static string Token(string? sub, string? tenant = null, string? role = null, string? username = null,
        DateTime? expires = null, string key = SigningKey, IDictionary<string, object>? extra = null)
    {
        var claims = new Dictionary<string, object>(extra ?? new Dictionary<string, object>());
        if (sub is not null)
        {
            claims["sub"] = sub;
        }
        if (tenant is not null)
        {
            claims["tenant"] = tenant;
        }
        if (role is not null)
        {
            claims["role"] = role;
        }
        claims["username"] = username ?? sub ?? "anonymous";
        var now = DateTime.UtcNow;
        var exp = expires ?? now.AddHours(1);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            IssuedAt = exp.AddHours(-2),
            NotBefore = exp.AddHours(-2),
            Expires = exp,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFactory>
{
    public const string Name = "gateway";
}

/// <summary>Reads pnut envelopes in tests.</summary>
public static class Pnut
{
    public static async Task<JsonElement> Json(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts the status and pnut's error envelope, returning its error_message.</summary>
    public static async Task<string> AssertError(this HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var json = await response.Json();
        Assert.Equal((int)status, json.GetProperty("meta").GetProperty("code").GetInt32());
        var message = json.GetProperty("meta").GetProperty("error_message").GetString();
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.False(json.TryGetProperty("data", out _));
        return message!;
    }

    public static async Task<JsonElement> AssertOk(this HttpResponseMessage response)
    {
        var json = await response.Json();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {json}");
        Assert.Equal(200, json.GetProperty("meta").GetProperty("code").GetInt32());
        return json;
    }

    public static FormUrlEncodedContent Form(params (string Key, string Value)[] fields)
        => new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    public static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");
}
