using Presence.Grains.Users;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class UserPresenceGrainTests(ClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("ann", "Ann", "https://example.test/ann.png");

    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    [Fact]
    public async Task A_user_never_seen_reads_offline_without_last_seen()
    {
        var presence = await User(Keys.Tenant(), "nobody").Get();
        Assert.Equal(PresenceStatus.Offline, presence.Status);
        Assert.Null(presence.LastSeenAt);
    }

    [Fact]
    public async Task One_source_going_offline_never_hides_another_that_is_live()
    {
        var user = User(Keys.Tenant(), "ann");
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        await user.Update(new PresenceUpdate("device:web_1", PresenceStatus.Online, null, Profile));
        Assert.Equal("busy", (await user.Get()).Status);

        var afterApiOffline = await user.Update(new PresenceUpdate(PresenceSources.Api, null, null, Profile));
        Assert.Equal(PresenceStatus.Online, afterApiOffline.Status);
        Assert.Equal(Profile, afterApiOffline.Profile);
        Assert.Equal(fixture.Time.GetUtcNow(), afterApiOffline.LastSeenAt);
    }

    [Fact]
    public async Task An_expired_source_never_counts_even_before_any_timer_runs()
    {
        var user = User(Keys.Tenant(), "ann");
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromSeconds(30), Profile));
        fixture.Time.Advance(TimeSpan.FromSeconds(30)); // no delay: nothing had a chance to run
        Assert.Equal(PresenceStatus.Offline, (await user.Get()).Status);
    }

    [Fact]
    public async Task The_index_shard_expires_users_on_time_by_its_own_timer()
    {
        var tenant = Keys.Tenant();
        var users = Enumerable.Range(0, 12).Select(i => $"u{i}").ToArray();
        foreach (var id in users)
        {
            await User(tenant, id).Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromSeconds(20), Profile));
        }
        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);
        Assert.Equal(12, (await directory.ListOnline(null, 100)).Users.Length);

        await fixture.Advance(TimeSpan.FromSeconds(21));
        // Read the shards' memory without calling them: only their timers can have emptied them.
        await Poll.Until(() => OnlineInShards(tenant) == 0, "every shard's timer removed its users");

        var changes = await directory.ChangesSince(fixture.Time.GetUtcNow().AddMinutes(-1));
        Assert.Equal(12, changes.Count(c => c.Status == PresenceStatus.Offline));
        Assert.Empty((await directory.ListOnline(null, 100)).Users);
    }

    [Fact]
    public async Task The_timeline_moves_a_user_from_busy_to_online_to_offline_in_the_index()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "ann");
        await user.Update(new PresenceUpdate("device:web_1", PresenceStatus.Online, TimeSpan.FromMinutes(10), Profile));
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(1), Profile));
        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);
        Assert.Equal("busy", Assert.Single((await directory.ListOnline(null, 10)).Users).Status);

        await fixture.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(PresenceStatus.Online, Assert.Single((await directory.ListOnline(null, 10)).Users).Status);
        await fixture.Advance(TimeSpan.FromMinutes(9));
        Assert.Empty((await directory.ListOnline(null, 10)).Users);

        var statuses = (await directory.ChangesSince(fixture.Time.GetUtcNow().AddMinutes(-10))).Select(c => c.Status);
        Assert.Equal(["online", "busy", "online", "offline"], statuses);
    }

    [Fact]
    public async Task Listing_walks_every_shard_in_pages_without_repeats_or_gaps()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 37).Select(i => $"user{i:D2}").ToHashSet();
        await Task.WhenAll(ids.Select(id => User(tenant, id).Update(new PresenceUpdate(PresenceSources.Api, "here", null, Profile))));
        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);

        var seen = new List<string>();
        DirectoryCursor? cursor = null;
        var pages = 0;
        do
        {
            var page = await directory.ListOnline(cursor, 5);
            Assert.True(page.Users.Length <= 5);
            seen.AddRange(page.Users.Select(u => u.UserId));
            cursor = page.Next;
            pages++;
        }
        while (cursor is not null && pages < 50);

        Assert.Equal(ids.Order(), seen.Order());
        Assert.All(PresenceShardsOf(ids), shard => Assert.InRange(shard, 0, ClusterFixture.Shards - 1));
        Assert.True(PresenceShardsOf(ids).Distinct().Count() > 1, "users should spread over several shards");
    }

    [Fact]
    public async Task An_index_shard_deactivated_by_a_shutdown_comes_back_with_its_users_and_change_log()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 10).Select(i => $"s{i}").ToArray();
        foreach (var id in ids)
        {
            await User(tenant, id).Update(new PresenceUpdate(PresenceSources.Api, "here", TimeSpan.FromMinutes(5), Profile));
        }
        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);
        var changesBefore = await directory.ChangesSince(fixture.Time.GetUtcNow().AddMinutes(-1));

        await fixture.DeactivateIndex(tenant);

        Assert.Equal(ids.Order(), (await directory.ListOnline(null, 100)).Users.Select(u => u.UserId).Order());
        Assert.Equal(changesBefore.Length, (await directory.ChangesSince(fixture.Time.GetUtcNow().AddMinutes(-1))).Length);
        await fixture.Advance(TimeSpan.FromMinutes(5)); // the restored timelines still expire on time
        Assert.Empty((await directory.ListOnline(null, 100)).Users);
    }

    [Fact]
    public async Task Users_who_expire_while_their_shard_is_away_are_logged_offline_when_it_returns()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 6).Select(i => $"e{i}").ToArray();
        foreach (var id in ids)
        {
            await User(tenant, id).Update(new PresenceUpdate(PresenceSources.Api, "here", TimeSpan.FromMinutes(2), Profile));
        }
        await fixture.DeactivateIndex(tenant);
        fixture.Time.Advance(TimeSpan.FromMinutes(3)); // nobody is active to notice

        var directory = fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant);
        Assert.Empty((await directory.ListOnline(null, 100)).Users);
        var offline = (await directory.ChangesSince(fixture.Time.GetUtcNow().AddMinutes(-2))).Where(c => c.Status == PresenceStatus.Offline);
        Assert.Equal(ids.Order(), offline.Select(c => c.UserId).Order());
    }

    [Fact]
    public async Task Tenants_never_see_each_other()
    {
        var (a, b) = (Keys.Tenant(), Keys.Tenant());
        await User(a, "same-id").Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        Assert.Equal(PresenceStatus.Offline, (await User(b, "same-id").Get()).Status);
        Assert.Empty((await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(b).ListOnline(null, 10)).Users);
        Assert.Single((await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(a).ListOnline(null, 10)).Users);
    }

    [Fact]
    public async Task An_older_update_arriving_late_does_not_overwrite_a_newer_one()
    {
        var tenant = Keys.Tenant();
        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));
        var now = fixture.Time.GetUtcNow();
        var newer = new IndexUpdate("ann", 20, Profile, now, "busy", [new StatusStep(now.AddMinutes(5), null)]);
        var older = newer with { Version = 10, Status = "away" };
        await shard.Apply([newer]);
        await shard.Apply([older]);
        Assert.Equal("busy", Assert.Single((await shard.List(null, 10)).Users).Status);

        await shard.Apply([newer with { Version = 30, Status = null, Steps = [] }]);
        await shard.Apply([older with { Version = 25 }]);
        Assert.Empty((await shard.List(null, 10)).Users);
    }

    [Fact]
    public async Task Refreshes_that_change_nothing_but_expiry_are_coalesced_and_written_at_deactivation()
    {
        var user = User(Keys.Tenant(), "ann");
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        var stored = await fixture.ReadStored<UserPresenceState>("user", user.GetGrainId());
        var firstExpiry = stored.Sources[PresenceSources.Api].ExpiresAt;

        await fixture.Advance(TimeSpan.FromSeconds(10));
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        stored = await fixture.ReadStored<UserPresenceState>("user", user.GetGrainId());
        Assert.Equal(firstExpiry, stored.Sources[PresenceSources.Api].ExpiresAt); // coalesced: not written yet

        await user.Update(new PresenceUpdate(PresenceSources.Api, "away", null, Profile));
        stored = await fixture.ReadStored<UserPresenceState>("user", user.GetGrainId());
        Assert.Equal("away", stored.Sources[PresenceSources.Api].Status); // a status change is written at once

        await fixture.Advance(TimeSpan.FromSeconds(10));
        var refreshed = fixture.Time.GetUtcNow();
        await user.Update(new PresenceUpdate(PresenceSources.Api, "away", null, Profile));
        await fixture.Cluster.DeactivateAsync(user);
        stored = await fixture.ReadStored<UserPresenceState>("user", user.GetGrainId());
        Assert.Equal(refreshed, stored.LastSeenAt); // the coalesced refresh was written on deactivation
        Assert.Equal("away", (await user.Get()).Status);
    }

    [Fact]
    public async Task A_refresh_is_written_once_its_expiry_moved_by_the_configured_window()
    {
        var user = User(Keys.Tenant(), "cid");
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        await fixture.Advance(TimeSpan.FromSeconds(20));
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        var stored = await fixture.ReadStored<UserPresenceState>("user", user.GetGrainId());
        Assert.Equal(fixture.Time.GetUtcNow() - TimeSpan.FromSeconds(20), stored.LastSeenAt); // within every user's window: coalesced

        // Each user's window is between half of and the whole configured minute: past a minute, always written.
        await fixture.Advance(TimeSpan.FromSeconds(41));
        var refreshed = fixture.Time.GetUtcNow();
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        stored = await fixture.ReadStored<UserPresenceState>("user", user.GetGrainId());
        Assert.Equal(refreshed, stored.LastSeenAt);
        Assert.Equal(refreshed + TimeSpan.FromMinutes(15), stored.Sources[PresenceSources.Api].ExpiresAt);
    }

    [Fact]
    public async Task User_grains_and_index_shards_live_on_both_silos_and_call_across_them()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 40).Select(i => $"x{i}").ToArray();
        await Task.WhenAll(ids.Select(id => User(tenant, id).Update(new PresenceUpdate(PresenceSources.Api, "here", null, Profile))));

        var management = fixture.Grains.GetGrain<IManagementGrain>(0);
        var stats = (await management.GetDetailedGrainStatistics()).Where(s => s.GrainId.Type.ToString() == "presence-user").ToArray();
        Assert.True(stats.Select(s => s.SiloAddress).Distinct().Count() > 1, "user grains should be spread over both silos");
        Assert.Equal(ids.Order(), (await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 100)).Users.Select(u => u.UserId).Order());
    }

    [Fact]
    public async Task A_profile_set_alone_is_seen_where_the_user_is_listed_and_kept_hidden_while_invisible()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "ann");
        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        var renamed = new UserProfile("ann", "Ann Onymous", null);

        var own = await user.SetProfile(renamed);
        Assert.Equal(renamed, own.Profile);
        Assert.Equal("busy", own.Status); // presence is untouched
        Assert.Equal(renamed, (await shard.FindView("ann"))!.Profile);
        Assert.Equal(renamed, (await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 10)).Users.Single().Profile);

        // Invisible: others keep the profile of the moment it turned invisible; the user sees its own.
        await user.SetInvisible(true);
        var secret = new UserProfile("ann", "Someone Else", null);
        Assert.Equal(secret, (await user.SetProfile(secret)).Profile);
        Assert.Equal(renamed, (await user.Get()).Profile);

        // Offline: kept for when the user is next seen.
        var offline = User(tenant, "bob");
        var bob = new UserProfile("bob", "Bob", "https://example.test/bob.png");
        Assert.Equal(PresenceStatus.Offline, (await offline.SetProfile(bob)).Status);
        Assert.Equal(bob, (await offline.Get()).Profile);
    }

    private int OnlineInShards(string tenant)
    {
        var count = fixture.PoolInstance(tenant)?.OnlineCount(tenant) ?? 0;
        foreach (var node in ClusterFixture.NodeKeys(tenant))
        {
            var id = fixture.Grains.GetGrain<IPresenceIndexGrain>(node).GetGrainId();
            if (fixture.Cluster.TryGetGrainContext(id, out var context) && context.GrainInstance is Presence.Grains.Index.PresenceIndexGrain grain)
            {
                count += grain.OnlineCount;
            }
        }
        return count;
    }

    private static IEnumerable<int> PresenceShardsOf(IEnumerable<string> ids) => ids.Select(id => PresenceKeys.ShardOf(id, ClusterFixture.Shards));
}
