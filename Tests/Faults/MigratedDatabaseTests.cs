using Presence.Tests.Postgres;

namespace Presence.Tests.Faults;

/// <summary>Tests of real processes on a PostgreSQL database of their own, migrated (when PostgreSQL is available).</summary>
public abstract class MigratedDatabaseTests : IAsyncLifetime
{
    protected PostgresDatabase Database { get; } = new();

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        if (Database.ConnectionString.Length > 0)
        {
            await Database.Migrate();
        }
    }

    public Task DisposeAsync() => Database.DisposeAsync();
}
