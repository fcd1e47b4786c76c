using Presence.Channels;
using Presence.Silo.Storage;
using Presence.Users;

namespace Presence.Tests.Postgres;

public sealed class PostgresStorageTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [PostgresFact]
    public async Task Migrations_apply_once_even_when_several_processes_run_them_at_the_same_time()
    {
        var fresh = new PostgresDatabase();
        await fresh.InitializeAsync();
        try
        {
            var counts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => fresh.Migrate()));
            Assert.Equal(SchemaMigrator.Scripts().Count, counts.Sum());
            Assert.Equal(0, await fresh.Migrate());
            Assert.Equal(SchemaMigrator.Scripts().Count, await fresh.Scalar<int>("SELECT count(*) FROM presence_schema_version"));
        }
        finally
        {
            await fresh.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task Every_query_the_orleans_providers_read_is_defined()
    {
        await database.Migrate();
        string[] keys =
        [
            "UpdateIAmAlivetimeKey", "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey",
            "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey",
            "CleanupDefunctSiloEntriesKey",
            "WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey",
            "UpsertReminderRowKey", "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
            "DeleteReminderRowKey", "DeleteReminderRowsKey",
        ];
        foreach (var key in keys)
        {
            Assert.Equal(1, await database.Scalar<int>($"SELECT count(*) FROM OrleansQuery WHERE QueryKey = '{key}'"));
        }
    }

    [PostgresFact]
    public async Task Acknowledged_presence_channels_and_members_survive_a_restart_of_the_whole_cluster()
    {
        await database.Migrate();
        var tenant = $"t{Guid.NewGuid():N}"[..12];
        var profile = new UserProfile("ann", "Ann", null);
        await using (var cluster = new PostgresCluster(database.ConnectionString, clusterId: tenant))
        {
            await cluster.StartSilos(2);
            await cluster.StartClient();
            var ann = cluster.Client.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ann"));
            await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromHours(1), profile));
            var channel = cluster.Client.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "team"));
            await channel.Subscribe("ann", profile);
            await channel.SetPresence(new ChannelPresenceUpdate("ann", "typing", DateTimeOffset.UtcNow.AddDays(2), profile));
        }
        Assert.True(await database.Scalar<long>("SELECT count(*) FROM orleans_storage") >= 1); // ann
        // The channel's member is a row of its own, not part of a channel blob.
        Assert.Equal(1, await database.Scalar<long>($"SELECT count(*) FROM presence_collection_item WHERE kind = 1 AND key = '{tenant}/team' AND item = 'ann'"));
        Assert.Equal(1, await database.Scalar<int>($"SELECT count(*) FROM orleans_reminders WHERE grainid LIKE '%{tenant}%'"));

        await using (var cluster = new PostgresCluster(database.ConnectionString, clusterId: tenant))
        {
            await cluster.StartSilos(1);
            await cluster.StartClient();
            var ann = await cluster.Client.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "ann")).Get();
            Assert.Equal("busy", ann.Status);
            Assert.Equal("Ann", ann.Profile.Name);
            var member = await cluster.Client.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "team")).GetMember("ann");
            Assert.Equal("typing", member.Status);
            Assert.True(member.Subscribed);
        }
    }
}
