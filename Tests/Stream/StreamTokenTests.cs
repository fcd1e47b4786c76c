using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Presence.Gateway.Stream;

namespace Presence.Tests.Stream;

/// <summary>Stream's tokens as its SDKs make them: user, server and development tokens, and every way one is refused.</summary>
public sealed class StreamTokenTests
{
    private const string Key = "key1";
    private const string Secret = "a-stream-app-secret-of-at-least-32-bytes";
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static StreamTokens Tokens(bool allowDevTokens = false) => new(Options.Create(new StreamOptions
    {
        Apps = { [Key] = new StreamApp { Secret = Secret, Tenant = "acme" }, ["key2"] = new StreamApp { Secret = Secret + "-other" } },
        AllowDevTokens = allowDevTokens,
    }), new FakeTimeProvider(Now));

    private static string Sign(string claims, string secret = Secret) => StreamChatClient.Sign(claims, secret);

    private static string DevToken(string userId) => StreamChatClient.DevToken(userId);

    private static long Seconds(TimeSpan fromNow) => (Now + fromNow).ToUnixTimeSeconds();

    [Fact]
    public async Task A_user_token_names_a_user_of_the_apps_tenant()
    {
        var (caller, error) = await Tokens().ValidateAsync(Key, Sign("""{"user_id":"alice"}"""));
        Assert.Null(error);
        Assert.Equal(new StreamCaller(Key, "acme", "alice"), caller);
        Assert.False(caller!.IsServer);

        (caller, _) = await Tokens().ValidateAsync(Key, Sign($$"""{"user_id":"bob","exp":{{Seconds(TimeSpan.FromHours(1))}},"iat":{{Seconds(TimeSpan.Zero)}}}"""));
        Assert.Equal("bob", caller!.UserId);
    }

    [Fact]
    public async Task A_server_token_acts_for_the_app()
    {
        var (caller, error) = await Tokens().ValidateAsync(Key, Sign("""{"server":true}"""));
        Assert.Null(error);
        Assert.True(caller!.IsServer);
        Assert.Equal("acme", caller.Tenant);
    }

    [Theory]
    [InlineData("nokey", 2)] // an unknown app
    [InlineData("key2", 43)] // another app's secret
    public async Task A_token_of_another_app_is_refused(string apiKey, int code)
    {
        var (caller, error) = await Tokens().ValidateAsync(apiKey, Sign("""{"user_id":"alice"}"""));
        Assert.Null(caller);
        Assert.Equal(code, error!.Code);
    }

    [Fact]
    public async Task Expired_early_forged_and_malformed_tokens_are_refused_with_streams_codes()
    {
        var tokens = Tokens();
        async Task<int> Code(string token) => (await tokens.ValidateAsync(Key, token)).Error!.Code;
        Assert.Equal(40, await Code(Sign($$"""{"user_id":"alice","exp":{{Seconds(TimeSpan.FromMinutes(-1))}}}""")));
        Assert.Equal(41, await Code(Sign($$"""{"user_id":"alice","nbf":{{Seconds(TimeSpan.FromMinutes(5))}}}""")));
        Assert.Equal(42, await Code(Sign($$"""{"user_id":"alice","iat":{{Seconds(TimeSpan.FromMinutes(5))}}}""")));
        Assert.Equal(43, await Code(Sign("""{"user_id":"alice"}""", "a-different-secret-of-at-least-32-bytes")));
        Assert.Equal(5, await Code(Sign("""{"user_id":"alice","exp":"tomorrow"}""")));
        Assert.Equal(5, await Code(Sign("""{"user_id":"not valid!"}""")));
        Assert.Equal(5, await Code(Sign("""{"user_id":42}""")));
        Assert.Equal(5, await Code(Sign("""{"server":"yes"}""")));
        Assert.Equal(5, await Code(Sign("""["user_id"]""")));
        Assert.Equal(5, await Code("undefined"));
        Assert.Equal(5, await Code("not.a.jwt"));
        Assert.Equal(5, await Code(""));
        var unsigned = Sign("""{"user_id":"alice"}""");
        Assert.Equal(43, await Code(unsigned[..unsigned.LastIndexOf('.')] + ".AAAA"));
    }

    [Fact]
    public async Task Development_tokens_only_when_allowed_and_never_as_a_server()
    {
        var (refused, error) = await Tokens().ValidateAsync(Key, DevToken("alice"));
        Assert.Null(refused);
        Assert.Equal(43, error!.Code);

        var (caller, _) = await Tokens(allowDevTokens: true).ValidateAsync(Key, DevToken("alice"));
        Assert.Equal(new StreamCaller(Key, "acme", "alice"), caller);

        var server = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"server":true}""")) + ".devtoken";
        Assert.Equal(5, (await Tokens(allowDevTokens: true).ValidateAsync(Key, server)).Error!.Code);
        Assert.Equal(5, (await Tokens(allowDevTokens: true).ValidateAsync(Key, "x.%%%.devtoken")).Error!.Code);
        foreach (var payload in new[] { """{"user_id":"\ud800"}""", """{"\ud800":1,"user_id":"a"}""", "not json", "" })
        {
            var token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + Convert.ToBase64String(Encoding.UTF8.GetBytes(payload)) + ".devtoken";
            Assert.Equal(5, (await Tokens(allowDevTokens: true).ValidateAsync(Key, token)).Error!.Code);
            Assert.Equal(5, (await Tokens().ValidateAsync(Key, Sign(payload))).Error!.Code);
        }
    }

    [Fact]
    public void The_configuration_says_each_problem()
    {
        var options = new StreamOptions
        {
            Apps =
            {
                ["good"] = new StreamApp { Secret = Secret },
                ["short"] = new StreamApp { Secret = "x" },
                ["bad key!"] = new StreamApp { Secret = Secret },
                ["tenant"] = new StreamApp { Secret = Secret, Tenant = "/x" },
            },
        };
        Assert.Equal(
            ["Presence:Stream:Apps:short:Secret must be at least 32 bytes.", "Presence:Stream:Apps: 'bad key!' is not an api key (1-64 letters, digits, '_' or '-').",
             "Presence:Stream:Apps:tenant:Tenant must be 1-128 letters, digits, '_', '.', '-' or '/'."],
            options.Problems());
    }
}
