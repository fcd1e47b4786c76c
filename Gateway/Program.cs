using Microsoft.Extensions.Options;
using Presence.Gateway.Agora;
using Presence.Gateway.Auth;
using Presence.Gateway.Health;
using Presence.Gateway.Hosting;
using Presence.Gateway.Pnut;
using Presence.Gateway.Realtime;
using Presence.Gateway.RocketChat;

if (TokenCommand.IsInvocation(args))
{
    return TokenCommand.Run(args);
}

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddPresenceGateway();

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
    app.MapPresenceDashboard();
    app.MapPresenceDiagnostics();
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException invalid)
{
    // Bad configuration: one line saying what to fix, not a stack trace.
    await Console.Error.WriteLineAsync($"Configuration error: {string.Join(" ", invalid.Failures)}");
    return 1;
}
catch (AggregateException several) when (several.InnerExceptions.All(e => e is OptionsValidationException))
{
    // More than one options type is wrong: still one line, every failure in it.
    var failures = several.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures);
    await Console.Error.WriteLineAsync($"Configuration error: {string.Join(" ", failures)}");
    return 1;
}
catch (InvalidOperationException unreadable) when (unreadable.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
{
    // A value of the wrong type (a duration that is not one, a number that is not one): the binder's own words.
    await Console.Error.WriteLineAsync($"Configuration error: {unreadable.Message}");
    return 1;
}

/// <summary>Entry point; public for WebApplicationFactory.</summary>
public partial class Program;
