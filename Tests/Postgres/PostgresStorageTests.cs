using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Presence.Channels;
using Presence.Grains.Channels;
using Presence.Grains.Hosting;
using Presence.Grains.Index;
using Presence.Index;
using Presence.Hosting.Storage;
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
        Assert.Equal(1, await database.Scalar<long>($"SELECT count(*) FROM presence_state WHERE name = 'user' AND key = '{tenant}/ann' AND payload IS NOT NULL"));
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

    [PostgresFact]
    public async Task Channels_and_shards_stored_whole_by_the_previous_version_are_carried_over_row_by_row()
    {
        await database.Migrate();
        var tenant = $"t{Guid.NewGuid():N}"[..12];
        var profile = new UserProfile("ann", "Ann", null);
        var now = DateTimeOffset.UtcNow;
        await using var cluster = new PostgresCluster(database.ConnectionString, clusterId: tenant);
        await cluster.StartSilos(1);
        await cluster.StartClient();

        // Written exactly as the previous version wrote them: whole, through the silo's grain storage.
        var storage = cluster.SiloServices.GetRequiredKeyedService<IGrainStorage>(PresenceStorage.Name);
        var channelKey = PresenceKeys.Of(tenant, "team");
        await storage.WriteStateAsync("channel", GrainId.Create("presence-channel", channelKey), new GrainState<ChannelPresenceState>(new ChannelPresenceState
        {
            Members = { ["ann"] = new ChannelMemberState { Profile = profile, Status = "typing", ExpiresAt = now.AddDays(1), LastSeenAt = now, SubscribedAt = now } },
            ReminderDue = now.AddDays(1),
        }));
        var shardKey = PresenceKeys.ShardKey(tenant, PresenceKeys.ShardOf("ann", 4));
        await storage.WriteStateAsync("index", GrainId.Create("presence-index", shardKey), new GrainState<IndexShardSnapshot>(new IndexShardSnapshot
        {
            Entries = [new IndexUpdate("ann", 3, profile, now, "busy", [new StatusStep(now.AddHours(1), null)])],
        }));
        Assert.Equal(2, await database.Scalar<long>($"SELECT count(*) FROM presence_state WHERE payload IS NOT NULL AND key LIKE '{tenant}/%'"));

        var member = await cluster.Client.GetGrain<IChannelPresenceGrain>(channelKey).GetMember("ann");
        Assert.Equal(("typing", true), (member.Status, member.Subscribed));
        // Through the tenant's root, which finds the fixed layout's shard and passes the listing on to it.
        Assert.Equal(["ann"], (await cluster.Client.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 10)).Users.Select(u => u.UserId));

        Assert.Equal(0, await database.Scalar<long>($"SELECT count(*) FROM presence_state WHERE payload IS NOT NULL AND key LIKE '{tenant}/%'"));
        Assert.Equal(1, await database.Scalar<long>($"SELECT count(*) FROM presence_collection_item WHERE serviceid = '{tenant}' AND kind = 1 AND item = 'ann'"));
        Assert.Equal(1, await database.Scalar<long>($"SELECT count(*) FROM presence_collection_item WHERE serviceid = '{tenant}' AND kind = 2 AND item = 'e:ann'"));
    }
}
