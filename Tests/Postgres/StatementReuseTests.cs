using Npgsql;
using Presence.Hosting;

namespace Presence.Tests.Postgres;

/// <summary>
/// A PostgreSQL connection string gets Npgsql's statement reuse unless the operator set those keywords: what they
/// wrote wins, in whichever spelling Npgsql accepts.
/// </summary>
public sealed class StatementReuseTests
{
    [Fact]
    public void A_connection_string_without_them_gets_prepared_statements_and_no_reset_on_close()
    {
        var built = new NpgsqlConnectionStringBuilder(PresenceClusterOptions.WithStatementReuse("Host=db;Port=5432;Database=presence;Username=presence;Password=\"p;w\""));
        Assert.Equal(32, built.MaxAutoPrepare);
        Assert.Equal(2, built.AutoPrepareMinUsages);
        Assert.True(built.NoResetOnClose);
        Assert.Equal(("db", 5432, "presence", "p;w"), (built.Host, built.Port, built.Database, built.Password));
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0;No Reset On Close=false;Auto Prepare Min Usages=5")]
    [InlineData("Host=db;maxautoprepare=0;NoResetOnClose=false;AUTO PREPARE MIN USAGES=5")]
    public void What_the_operator_set_is_kept(string connectionString)
    {
        var built = new NpgsqlConnectionStringBuilder(PresenceClusterOptions.WithStatementReuse(connectionString));
        Assert.Equal(0, built.MaxAutoPrepare);
        Assert.Equal(5, built.AutoPrepareMinUsages);
        Assert.False(built.NoResetOnClose);
    }
}
