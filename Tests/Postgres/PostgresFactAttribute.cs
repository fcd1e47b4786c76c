namespace Presence.Tests.Postgres;

/// <summary>
/// A test that needs a real PostgreSQL: <c>PRESENCE_TEST_POSTGRES</c> holds a connection string to a server where
/// the tests may create databases (<c>.ci/run</c> starts one). Without it the test is skipped, saying why — except
/// in CI (<c>CI=true</c>), where a missing PostgreSQL must fail, not pass silently.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public const string Variable = "PRESENCE_TEST_POSTGRES";

    public PostgresFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"needs PostgreSQL: set {Variable} to a connection string (scripts/pg.sh start DIR prints one)";
        }
    }

    public static string ServerConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"CI=true but {Variable} is not set: CI must provide PostgreSQL.");
}
