using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Presence.Silo.Hosting;
using Presence.Silo.Storage;

try
{
    // Content root = where the program is, so its appsettings.json applies whatever the working directory.
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
    {
        Args = [.. args.Where(a => a != "migrate")],
        ContentRootPath = AppContext.BaseDirectory,
    });
    if (args.Contains("migrate"))
    {
        // `dotnet run --project Silo -- migrate`: apply the PostgreSQL schema and exit.
        var options = PresenceClusterOptions.From(builder.Configuration);
        if (!options.UsesPostgres)
        {
            throw new OptionsValidationException("Presence", typeof(PresenceClusterOptions), ["migrate needs ConnectionStrings:presence (env ConnectionStrings__presence)."]);
        }
        using var services = builder.Services.BuildServiceProvider();
        var logger = services.GetRequiredService<ILogger<SchemaMigrator>>();
        await new SchemaMigrator(options.ConnectionString!, logger).MigrateAsync();
        return 0;
    }
    builder.UseOrleans(silo => silo.AddPresenceSilo(builder.Configuration));
    var host = builder.Build();
    // Every option validated now, before anything starts: a bad value is one line below, not a failed host's log.
    host.Services.GetRequiredService<IStartupValidator>().Validate();
    await host.RunAsync();
    return 0;
}
catch (OptionsValidationException invalid)
{
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
    await Console.Error.WriteLineAsync($"Configuration error: {unreadable.Message}");
    return 1;
}

/// <summary>The silo program; internal, so the gateway's Program stays the one public entry point (tests use it).</summary>
internal partial class Program;
