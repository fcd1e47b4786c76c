using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Presence.Client;
using Presence.Grains.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Http;

/// <summary>
/// A gateway whose user grains for "down-*" users fail as a cluster whose database is down does, and for "broken-*" users
/// with a bug's exception; every other user is served by the real cluster.
/// </summary>
public sealed class FailingClusterFactory : GatewayFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.Replace(ServiceDescriptor.Singleton<IPresenceGrains>(provider => new PresenceGrains(
                FailingGrains.Wrap(provider.GetRequiredService<IGrainFactory>()),
                provider.GetRequiredService<IndexLayout>(),
                new IndexNodes(FailingGrains.Wrap(provider.GetRequiredService<IGrainFactory>()), provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Presence.Grains.Hosting.PresenceIndexOptions>>()),
                provider.GetService<LocalIndexShards>())));
            services.AddSingleton<IStartupFilter>(new RecordOutcomes(Outcomes));
        });
    }

    /// <summary>How each request left the whole pipeline: its path, its final status, and whether an exception escaped.</summary>
    public ConcurrentQueue<(string Path, int Status, bool Escaped)> Outcomes { get; } = new();

    private sealed class RecordOutcomes(ConcurrentQueue<(string Path, int Status, bool Escaped)> outcomes) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, inner) =>
            {
                var escaped = true;
                try
                {
                    await inner(context);
                    escaped = false;
                }
                finally
                {
                    outcomes.Enqueue((context.Request.Path, context.Response.StatusCode, escaped));
                }
            });
            next(app);
        };
    }

    /// <summary>An <see cref="IGrainFactory"/> that hands out failing user grains for the two prefixes.</summary>
    public class FailingGrains : DispatchProxy
    {
        private IGrainFactory _inner = null!;

        public static IGrainFactory Wrap(IGrainFactory inner)
        {
            var proxy = Create<IGrainFactory, FailingGrains>();
            ((FailingGrains)(object)proxy)._inner = inner;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name == nameof(IGrainFactory.GetGrain) && method.ReturnType == typeof(IUserPresenceGrain)
                && args is [string key, ..] && Failure(key) is { } failure)
            {
                return FailingUser.Create(failure);
            }
            try
            {
                return method.Invoke(_inner, args);
            }
            catch (TargetInvocationException error) when (error.InnerException is not null)
            {
                throw error.InnerException;
            }
        }

        private static Exception? Failure(string key)
            => key.Contains("reset-", StringComparison.Ordinal) ? new IOException("connection reset by peer")
                : key.Contains("down-", StringComparison.Ordinal) ? new Presence.Storage.StorageUnavailableException("database down", new TimeoutException())
                : key.Contains("broken-", StringComparison.Ordinal) ? new InvalidOperationException("secret internal detail")
                : null;
    }

    /// <summary>A user grain whose every call fails with the given exception.</summary>
    public class FailingUser : DispatchProxy
    {
        private Exception _failure = null!;

        public static IUserPresenceGrain Create(Exception failure)
        {
            var proxy = Create<IUserPresenceGrain, FailingUser>();
            ((FailingUser)(object)proxy)._failure = failure;
            return proxy;
        }

        /// <summary>Fails at once; an <see cref="IOException"/> only once the call is cancelled, as a client's reset surfaces.</summary>
        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            var type = method!.ReturnType.GetGenericArguments() is [var result] ? result : typeof(object);
            var token = args?.OfType<CancellationToken>().FirstOrDefault() ?? default;
            var name = _failure is IOException ? nameof(FailWhenCancelled) : nameof(Fail);
            return typeof(FailingUser).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type).Invoke(null, [_failure, token]);
        }

        private static Task<T> Fail<T>(Exception failure, CancellationToken token) => Task.FromException<T>(failure);

        /// <summary>Released each time a call has reached a grain that fails only once cancelled.</summary>
        public static readonly SemaphoreSlim Waiting = new(0);

        private static async Task<T> FailWhenCancelled<T>(Exception failure, CancellationToken token)
        {
            Waiting.Release();
            await Task.Delay(Timeout.Infinite, token).ContinueWith(_ => { }, TaskScheduler.Default);
            throw failure;
        }
    }
}

public sealed class FailingClusterTests(FailingClusterFactory factory) : IClassFixture<FailingClusterFactory>
{
    [Fact]
    public async Task A_cluster_that_cannot_answer_is_a_503_in_the_dialects_format_and_not_cached()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        using var response = await client.GetAsync("/v1/users/down-x/presence");
        var message = await response.AssertError(HttpStatusCode.ServiceUnavailable);
        Assert.Contains("temporarily unavailable", message);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString());

        using var rocket = factory.CreateClient();
        rocket.DefaultRequestHeaders.Add("X-Auth-Token", GatewayFactory.Token("ann", Keys.Tenant()));
        rocket.DefaultRequestHeaders.Add("X-User-Id", "ann");
        using var failed = await rocket.GetAsync("/api/v1/users.getStatus?userId=down-x");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        var json = await failed.Json();
        Assert.False(json.GetProperty("success").GetBoolean());
        Assert.Contains("temporarily unavailable", json.GetProperty("error").GetString());

        using var scraper = factory.CreateClient();
        await Poll.Until(async () => (await scraper.GetStringAsync("/metrics"))
            .Contains("error_type=\"Presence.Storage.StorageUnavailableException\"", StringComparison.Ordinal),
            "the request-duration metric names the failure");
    }

    [Fact]
    public async Task A_client_that_resets_mid_call_ends_as_a_quiet_499_not_as_a_failure()
    {
        using var client = factory.ClientFor("ann", Keys.Tenant());
        using var leaving = new CancellationTokenSource();
        var call = client.GetAsync("/v1/users/reset-1/presence", leaving.Token);
        // The client leaves only once the call is in the grain, so what is tested is the abort in the middle of it.
        Assert.True(await FailingClusterFactory.FailingUser.Waiting.WaitAsync(TimeSpan.FromSeconds(30)), "the call reached the grain");
        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        await Poll.Until(() => Task.FromResult(factory.Outcomes.Any(o => o.Path == "/v1/users/reset-1/presence")),
            "the aborted request has left the pipeline");
        Assert.Equal(("/v1/users/reset-1/presence", 499, false), factory.Outcomes.First(o => o.Path == "/v1/users/reset-1/presence"));
    }

    [Fact]
    public async Task A_bug_is_a_500_that_tells_the_client_nothing_internal_and_the_next_call_is_served()
    {
        var tenant = Keys.Tenant();
        using var client = factory.ClientFor("ann", tenant);
        using var response = await client.GetAsync("/v1/users/broken-1/presence");
        var message = await response.AssertError(HttpStatusCode.InternalServerError);
        Assert.DoesNotContain("secret", message);

        await (await client.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "here")))).AssertOk();
        var json = await (await client.GetAsync("/v1/users/me/presence")).AssertOk();
        Assert.Equal("here", json.GetProperty("data").GetProperty("presence").GetString());
    }
}
