using Microsoft.Extensions.Options;
using Presence.Gateway.Agora;
using Presence.Gateway.Auth;
using Presence.Gateway.Health;
using Presence.Gateway.Hosting;
using Presence.Gateway.Pnut;
using Presence.Gateway.Realtime;
using Presence.Gateway.Realtime.Direct;
using Presence.Gateway.RocketChat;
using Presence.Gateway.Stream;
using Presence.Hosting;

if (TokenCommand.IsInvocation(args))
{
    return TokenCommand.Run(args);
}

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddPresenceGateway();
    // Realtime streams on their own sockets beside Kestrel (Presence:Realtime:DirectStreams, on by default; see
    // docs/architecture.md): what keeps an idle stream under 4 KB.
    builder.AddDirectStreams();

    var app = builder.Build();
    // Every option validated now, before anything starts: a bad value is one line below, not a failed host's log.
    app.Services.GetRequiredService<IStartupValidator>().Validate();
    app.UsePresenceGateway();
    app.MapPresenceHealth();
    app.MapPresenceOpenApi();
    app.MapPresenceMetrics();
    app.MapPnutApi();
    app.MapAgoraApi();
    app.MapRocketChatApi();
    app.MapRealtimeApi();
    app.MapStreamChatApi();
    app.MapPresenceDashboard();
    app.MapPresenceDiagnostics();
    await app.RunAsync();
    return 0;
}
catch (Exception error) when (ConfigurationErrors.Describe(error) is { } line)
{
    // Bad configuration: one line saying what to fix, not a stack trace.
    await Console.Error.WriteLineAsync(line);
    return 1;
}

/// <summary>Entry point; public for WebApplicationFactory.</summary>
public partial class Program;
