using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Presence.Hosting;

using Presence.Tests.Support;

namespace Presence.Tests.Postgres;

/// <summary>Silos configured exactly as production runs them (PostgreSQL clustering, storage, reminders), in this process, plus a client.</summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly List<IHost> _silos = [];
    private IHost? _client;
    private readonly string _connectionString;
    private readonly string _clusterId;

    public PostgresCluster(string connectionString, string? clusterId = null)
    {
        _connectionString = connectionString;
        _clusterId = clusterId ?? $"c{Guid.NewGuid():N}";
    }

    public IClusterClient Client => _client!.Services.GetRequiredService<IClusterClient>();

    /// <summary>The first silo's services (its storage providers, as grains use them).</summary>
    public IServiceProvider SiloServices => _silos[0].Services;

    public async Task StartSilos(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration.AddInMemoryCollection(Settings(("Presence:Silo:SiloPort", TestEnvironment.FreePort()), ("Presence:Silo:GatewayPort", TestEnvironment.FreePort())));
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.UseOrleans(silo => silo.AddPresenceSilo(builder.Configuration));
            var host = builder.Build();
            await host.StartAsync();
            _silos.Add(host);
        }
    }

    public async Task StartClient()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(Settings());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client => client.AddPresenceClient(PresenceClusterOptions.From(builder.Configuration)));
        _client = builder.Build();
        await _client.StartAsync();
    }

    /// <summary>Stops everything gracefully (deactivations write what they hold).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }
        foreach (var silo in _silos)
        {
            await silo.StopAsync();
            silo.Dispose();
        }
        _silos.Clear();
    }

    private Dictionary<string, string?> Settings(params (string Key, object Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:presence"] = _connectionString,
            ["Presence:Silo:ClusterId"] = _clusterId,
            ["Presence:Silo:ServiceId"] = _clusterId,
            ["Presence:Index:Shards"] = "4",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value.ToString();
        }
        return settings;
    }
}
