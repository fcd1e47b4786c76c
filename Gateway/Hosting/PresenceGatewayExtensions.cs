using Presence.Gateway.Agora;
using Presence.Gateway.Auth;
using Presence.Gateway.Health;
using Presence.Gateway.Realtime;
using Presence.Gateway.RocketChat;
using Presence.Gateway.Stream;
using Presence.Hosting;

namespace Presence.Gateway.Hosting;

public static partial class PresenceGatewayExtensions
{
    /// <summary>
    /// The gateway's services: JWT auth, health checks, the edge's limits, and the cluster: by default a co-hosted
    /// silo (in-memory storage and reminders, localhost clustering); when PostgreSQL is configured, an Orleans client
    /// of the silos registered there.
    /// </summary>
    public static WebApplicationBuilder AddPresenceGateway(this WebApplicationBuilder builder)
    {
        builder.AddPresenceCluster();
        builder.AddPresenceAuth();
        builder.AddAgora();
        builder.AddRocketChat();
        builder.AddStream();
        builder.AddRealtime();
        builder.AddPresenceDashboard();
        builder.AddPresenceOpenApi();
        builder.AddPresenceMetrics();
        builder.Services.AddOptions<GatewayHttpOptions>().BindConfiguration(GatewayHttpOptions.Section)
            .Validate(o => o.MaxBodyBytes > 0, $"{GatewayHttpOptions.Section}:MaxBodyBytes must be positive.")
            .Validate(o => o.CorsOrigins.All(origin => GatewayHttpOptions.Origin(origin) is not null),
                $"{GatewayHttpOptions.Section}:CorsOrigins must each be an origin (https://host[:port], no path) or *.")
            .ValidateOnStart();
        builder.AddPresenceCors();
        builder.Services.AddSingleton<DialectRegistry>();
        builder.Services.AddHealthChecks().AddCheck<ClusterHealthCheck>("cluster", tags: [HealthEndpoints.ReadyTag]);
        return builder;
    }

    /// <summary>
    /// The whole request pipeline. Every middleware goes here, in front of the endpoint: a call whose caller is settled
    /// leaves the main pipeline at <see cref="CallerAuthentication.UsePresenceAuthentication"/> for a branch of its own
    /// (the steps after authorization, then its endpoint), so a middleware added after this would not see it.
    /// </summary>
    public static WebApplication UsePresenceGateway(this WebApplication app)
    {
        app.UseDialectErrors();
        app.UsePresenceCors(); // preflights are answered before authentication asks for a token
        app.UseRealtimeSockets();
        app.UsePresenceAuthentication(afterAuthorization: steps =>
        {
            steps.UseMiddleware<Agora.AgoraCallLimitMiddleware>(); // only authorized calls count against an app's limit
            steps.UseMiddleware<TransientRetry>(); // retries what follows: pnut's update_presence and the endpoint
            steps.UseMiddleware<Pnut.UpdatePresence>();
        });
        app.Lifetime.ApplicationStarted.Register(() => Announce(app));
        return app;
    }

    private static void Announce(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Presence.Gateway");
        LogListening(logger, string.Join(", ", app.Urls));
        if (app.Services.GetRequiredService<DevelopmentKeyNotice>() is { UsesDevelopmentKey: true } notice)
        {
            LogDevelopmentKey(logger, notice.Generated ? "generated" : "loaded", SigningKeys.DevelopmentKeyPath);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Orleans.Presence gateway listening on {Urls}")]
    private static partial void LogListening(ILogger logger, string urls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No Presence:Auth:SigningKey configured: using the development key {Action} at {Path}. Mint a token with: dotnet run --project Gateway -- token --sub alice")]
    private static partial void LogDevelopmentKey(ILogger logger, string action, string path);
}
