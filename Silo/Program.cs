using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Presence.Hosting;
using Presence.Hosting.Storage;

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
    builder.Services.AddPresenceSiloTelemetry(builder.Configuration);
    var host = builder.Build();
    // Every option validated now, before anything starts: a bad value is one line below, not a failed host's log.
    host.Services.GetRequiredService<IStartupValidator>().Validate();
    await host.RunAsync();
    return 0;
}
catch (Exception error) when (ConfigurationErrors.Describe(error) is { } line)
{
    // Bad configuration: one line saying what to fix, not a stack trace.
    await Console.Error.WriteLineAsync(line);
    return 1;
}

/// <summary>The silo program; internal, so the gateway's Program stays the one public entry point (tests use it).</summary>
internal partial class Program;
