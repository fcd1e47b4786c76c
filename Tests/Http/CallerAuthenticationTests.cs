using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>
/// A gateway that counts, per Authorization header, each time the framework's authentication looked for a handler, and
/// each time its authorization middleware evaluated a policy.
/// </summary>
public sealed class HandlerCountingGatewayFactory : GatewayFactory
{
    public ConcurrentDictionary<string, int> HandlerLookups { get; } = new();

    public ConcurrentDictionary<string, int> PolicyEvaluations { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.AddScoped<AuthenticationHandlerProvider>();
            services.Replace(ServiceDescriptor.Scoped<IAuthenticationHandlerProvider>(
                provider => new Counting(provider.GetRequiredService<AuthenticationHandlerProvider>(), HandlerLookups)));
            services.AddTransient<PolicyEvaluator>();
            services.Replace(ServiceDescriptor.Transient<IPolicyEvaluator>(
                provider => new CountingEvaluator(provider.GetRequiredService<PolicyEvaluator>(), PolicyEvaluations)));
        });
    }

    private sealed class CountingEvaluator(PolicyEvaluator inner, ConcurrentDictionary<string, int> evaluations) : IPolicyEvaluator
    {
        public Task<AuthenticateResult> AuthenticateAsync(AuthorizationPolicy policy, HttpContext context)
        {
            evaluations.AddOrUpdate(context.Request.Headers.Authorization.ToString(), 1, (_, n) => n + 1);
            return inner.AuthenticateAsync(policy, context);
        }

        public Task<PolicyAuthorizationResult> AuthorizeAsync(AuthorizationPolicy policy, AuthenticateResult authenticationResult, HttpContext context, object? resource)
            => inner.AuthorizeAsync(policy, authenticationResult, context, resource);
    }

    private sealed class Counting(IAuthenticationHandlerProvider inner, ConcurrentDictionary<string, int> lookups) : IAuthenticationHandlerProvider
    {
        public Task<IAuthenticationHandler?> GetHandlerAsync(HttpContext context, string authenticationScheme)
        {
            lookups.AddOrUpdate(context.Request.Headers.Authorization.ToString(), 1, (_, n) => n + 1);
            return inner.GetHandlerAsync(context, authenticationScheme);
        }
    }
}

public sealed class CallerAuthenticationTests(HandlerCountingGatewayFactory factory) : IClassFixture<HandlerCountingGatewayFactory>
{
    [Fact]
    public async Task A_token_is_validated_by_the_framework_once_and_later_calls_take_the_fast_path()
    {
        using var client = factory.ClientFor("quick", Keys.Tenant());
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();
        for (var i = 0; i < 4; i++)
        {
            await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
        }
        // Five calls: the first had its token validated; the later ones were authorized without asking a handler.
        Assert.Equal(1, factory.HandlerLookups[client.DefaultRequestHeaders.Authorization!.ToString()]);
    }

    [Fact]
    public async Task The_framework_authenticates_no_request_by_itself()
    {
        // CallerAuthentication establishes the caller before the framework's two middlewares. Should the documented
        // switch stop suppressing the one-scheme default, every request that goes through them would be authenticated twice.
        var schemes = factory.Services.GetRequiredService<IAuthenticationSchemeProvider>();
        Assert.True(await schemes.GetDefaultAuthenticateSchemeAsync() is null,
            "a default authenticate scheme is set: Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme no longer keeps the one scheme from being the default");
        Assert.Equal(Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme, (await schemes.GetDefaultChallengeSchemeAsync())?.Name);
    }

    [Fact]
    public async Task A_call_with_its_caller_settled_skips_the_frameworks_authorization_and_one_without_goes_through_it()
    {
        using var client = factory.ClientFor("settled", Keys.Tenant());
        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();
        await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
        await (await client.GetAsync("/v1/presence")).AssertOk();
        Assert.False(factory.PolicyEvaluations.ContainsKey(client.DefaultRequestHeaders.Authorization!.ToString()));

        // No bearer token: the framework's authorization evaluates the route's policy and JwtBearer challenges, in pnut's format.
        using var anonymous = factory.CreateClient();
        anonymous.DefaultRequestHeaders.Authorization = new("Basic", "c29tZW9uZTpzb21ldGhpbmc=");
        await (await anonymous.GetAsync("/v1/users/me/presence")).AssertError(System.Net.HttpStatusCode.Unauthorized);
        Assert.Equal(1, factory.PolicyEvaluations[anonymous.DefaultRequestHeaders.Authorization!.ToString()]);
    }

    [Fact]
    public async Task A_token_that_fails_goes_to_the_framework_every_time()
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", GatewayFactory.Token("slow", key: "another-signing-key-0123456789-abcdefghijkl"));
        for (var i = 0; i < 3; i++)
        {
            await (await client.GetAsync("/v1/users/me/presence")).AssertError(System.Net.HttpStatusCode.Unauthorized);
        }
        // Each call: authenticate, then challenge.
        Assert.Equal(6, factory.HandlerLookups[client.DefaultRequestHeaders.Authorization!.ToString()]);
    }

    [Theory]
    [InlineData(false, null, null, null)]
    [InlineData(true, "ann", "Ann A.", "https://example.org/a.png")]
    public void A_callers_compact_principal_reads_back_as_the_same_caller(bool admin, string? username, string? name, string? avatar)
    {
        var caller = new Presence.Gateway.Auth.Caller("acme", "ann", admin, new Presence.Model.UserProfile(username, name, avatar));
        var principal = caller.ToPrincipal("4102444800");

        Assert.Equal(caller, Presence.Gateway.Auth.Caller.FromPrincipal(principal));
        Assert.True(principal.Identity!.IsAuthenticated);
        Assert.Equal("ann", principal.Identity.Name);
        Assert.Equal(admin, principal.IsInRole("admin"));
        Assert.Equal("4102444800", principal.FindFirst("exp")?.Value);
    }

    [Fact]
    public async Task Calls_of_different_callers_on_one_keep_alive_connection_are_each_their_own()
    {
        // Over a real socket: a connection remembers a token, which must never answer for another one.
        using var kestrel = new GatewayFactory();
        var tenant = Keys.Tenant();
        var ann = GatewayFactory.Token("ann", tenant);
        var bob = GatewayFactory.Token("bob", tenant);
        var forged = GatewayFactory.Token("ann", tenant, key: "another-signing-key-0123456789-abcdefghijkl");
        await CallInTurn(kestrel, [(ann, "ann"), (ann, "ann"), (bob, "bob"), (ann, "ann"), (forged, null), (bob, "bob")]);
    }

    [Fact]
    public async Task A_token_the_connection_remembers_is_refused_once_expired_and_the_next_one_answers_for_itself()
    {
        using var kestrel = new UnskewedGateway();
        var tenant = Keys.Tenant();
        var lapses = DateTime.UtcNow.AddSeconds(8); // past the gateway's start
        var ann = GatewayFactory.Token("ann", tenant, expires: lapses); // the connection's first
        var bob = GatewayFactory.Token("bob", tenant);
        var cat = GatewayFactory.Token("cat", tenant);
        await CallInTurn(kestrel, [(ann, "ann"), (bob, "bob")], () => Task.Delay(TimeSpan.FromTicks(Math.Max(0, (lapses.AddSeconds(1.5) - DateTime.UtcNow).Ticks))),
            [(ann, null), (bob, "bob"), (cat, "cat"), (bob, "bob"), (ann, null)]);
    }

    /// <summary>Tokens lapse at their exp, on the machine's clock (which token validation reads).</summary>
    private sealed class UnskewedGateway : GatewayFactory
    {
        public UnskewedGateway()
            : base(("Presence:Auth:ClockSkew", "00:00:00")) => RealClock = true;
    }

    /// <summary>
    /// Presence updates with each token in turn over one keep-alive connection, each answering for whom it expects (null:
    /// 401); then, once <paramref name="pause"/> ends, the calls of <paramref name="later"/> on the same connection.
    /// </summary>
    private static async Task CallInTurn(GatewayFactory kestrel, (string Token, string? Expected)[] calls, Func<Task>? pause = null, (string Token, string? Expected)[]? later = null)
    {
        kestrel.UseKestrel(0);
        kestrel.StartServer();
        using var http = kestrel.CreateClient(); // one request at a time: one keep-alive connection
        foreach (var (token, expected) in calls)
        {
            await Call(http, token, expected);
        }
        await (pause?.Invoke() ?? Task.CompletedTask);
        foreach (var (token, expected) in later ?? [])
        {
            await Call(http, token, expected);
        }
    }

    private static async Task Call(HttpClient http, string token, string? expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/users/me/presence") { Content = Pnut.Form(("presence", "here")) };
        request.Headers.Authorization = new("Bearer", token);
        using var response = await http.SendAsync(request);
        if (expected is null)
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
            return;
        }
        var data = await response.AssertOk();
        Assert.Equal(expected, data.GetProperty("data").GetProperty("id").GetString());
    }
}
