using Presence.Grains.Index;
using Presence.Index;

namespace Presence.Tests.Grains;

/// <summary>The plain parts an index shard is made of, without a cluster.</summary>
public sealed class ShardPartsTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private static readonly UserProfile Profile = new("ann", "Ann", null);

    private static IndexUpdate Online(string userId, long version, DateTimeOffset now, string status = "online", int minutes = 5, string[]? holds = null)
        => new(userId, version, Profile, now, status, [new StatusStep(now.AddMinutes(minutes), null)], null, holds);

    [Fact]
    public void An_update_older_than_the_users_going_offline_cannot_list_it_again_until_the_log_forgets_it()
    {
        var log = new ChangeLog();
        var entries = new ShardEntries(log, new HoldLeases(), persist: false, shards: 4);
        entries.Apply(Online("ann", 5, T0), T0);
        entries.Apply(new IndexUpdate("ann", 7, Profile, T0, null, []), T0.AddSeconds(1));
        Assert.False(entries.Contains("ann"));

        entries.Apply(Online("ann", 6, T0), T0.AddSeconds(2)); // late, older than the offline one
        Assert.False(entries.Contains("ann"));
        Assert.Equal(["online", "offline"], log.Since(T0).Select(c => c.Status));

        log.Prune(T0.AddMinutes(11), entries.Contains); // the tombstone goes with its change
        entries.Apply(Online("ann", 6, T0.AddMinutes(11)), T0.AddMinutes(11));
        Assert.True(entries.Contains("ann"));
    }

    [Fact]
    public void A_persisting_shard_writes_a_row_for_a_change_at_once_and_leaves_refreshes_for_its_periodic_write()
    {
        var entries = new ShardEntries(new ChangeLog(), new HoldLeases(), persist: true, shards: 4);
        entries.Apply(Online("ann", 1, T0), T0);
        Assert.Equal([("ann", true)], entries.TakeDirty().Select(d => (d.UserId, d.Entry is not null)));

        entries.Apply(Online("ann", 2, T0.AddSeconds(10)), T0.AddSeconds(10)); // only times moved
        Assert.Empty(entries.TakeDirty());
        Assert.True(entries.HasUnsaved);

        entries.Apply(Online("ann", 3, T0.AddSeconds(20), status: "busy"), T0.AddSeconds(20)); // a new status
        Assert.Single(entries.TakeDirty());

        entries.Apply(Online("ann", 4, T0.AddSeconds(30), status: "busy"), T0.AddSeconds(30));
        entries.MarkUnsavedDirty();
        Assert.Single(entries.TakeDirty());
        Assert.False(entries.HasUnsaved);

        Assert.Equal(1, entries.ApplyDue(T0.AddSeconds(30).AddMinutes(5)));
        Assert.Equal([("ann", false)], entries.TakeDirty().Select(d => (d.UserId, d.Entry is not null))); // its row goes
    }

    [Fact]
    public void A_restored_entry_whose_end_passed_while_the_shard_was_away_is_logged_offline_and_its_row_deleted()
    {
        var log = new ChangeLog();
        var entries = new ShardEntries(log, new HoldLeases(), persist: true, shards: 4);
        entries.Apply(Online("ann", 1, T0), T0.AddMinutes(6), restoring: true);
        Assert.False(entries.Contains("ann"));
        var offline = Assert.Single(log.Since(T0));
        Assert.Equal((T0.AddMinutes(5), PresenceStatus.Offline), (offline.At, offline.Status));
        Assert.Equal([("ann", false)], entries.TakeDirty().Select(d => (d.UserId, d.Entry is not null)));

        entries.Apply(Online("bob", 1, T0), T0.AddMinutes(1), restoring: true);
        Assert.True(entries.Contains("bob"));
        Assert.Empty(entries.TakeDirty()); // restored as stored: nothing to write
    }

    [Fact]
    public void A_hold_lapses_when_its_lease_ends_and_users_it_holds_share_its_one_array()
    {
        var holds = new HoldLeases { TrackChanges = true };
        Assert.False(holds.Renew("stream:g", T0, TimeSpan.FromMinutes(1)));
        Assert.True(holds.Renew("stream:g", T0.AddSeconds(20), TimeSpan.FromMinutes(1)));
        var known = holds.Known(["stream:g"]);
        Assert.Same(known, holds.Known(["stream:g"]));
        Assert.Equal(T0.AddSeconds(80), holds.EarliestEnd);
        Assert.Equal([("stream:g", true)], holds.TakeChanged().Select(c => (c.Source, c.Lease is not null)));

        Assert.Null(holds.TakeLapsed(T0.AddSeconds(79)));
        var lapsed = Assert.Single(holds.TakeLapsed(T0.AddSeconds(80))!);
        Assert.Equal(T0.AddSeconds(50), lapsed.SetBefore);
        Assert.Equal([("stream:g", false)], holds.TakeChanged().Select(c => (c.Source, c.Lease is not null)));
        Assert.Equal(DateTimeOffset.MaxValue, holds.EarliestEnd);
    }

    [Fact]
    public void The_log_numbers_changes_in_order_across_a_restore_and_hands_out_each_fresh_change_once()
    {
        var log = new ChangeLog { TrackPruned = true };
        log.Restore(new LoggedChange(41, new PresenceChange(T0, "ann", Profile, "online", T0), 0));
        log.Append(new PresenceChange(T0.AddSeconds(1), "bob", Profile, "online", T0));
        Assert.Equal([42L], log.TakeFresh()!.Select(c => c.Sequence));
        Assert.Null(log.TakeFresh());

        log.Prune(T0.AddMinutes(10).AddSeconds(1), _ => false);
        Assert.Equal([41L], log.TakePruned());
        Assert.Equal(["bob"], log.Since(T0).Select(c => c.UserId));
    }

    [Fact]
    public void What_a_node_asks_its_timer_for_is_always_moved_past_by_handling_it_so_a_standing_clock_cannot_refire_it()
    {
        var log = new ChangeLog();
        log.Append(new PresenceChange(T0, "ann", Profile, "online", T0));
        var at = log.NextPruneAt;

        log.Prune(at - TimeSpan.FromTicks(1), _ => false); // exactly one window old: still kept
        Assert.Equal(["ann"], log.Since(T0).Select(c => c.UserId));
        Assert.Equal(at, log.NextPruneAt);

        log.Prune(at, _ => false);
        Assert.Equal(DateTimeOffset.MaxValue, log.NextPruneAt);

        var holds = new HoldLeases();
        holds.Renew("stream:g", T0, TimeSpan.FromMinutes(1));
        holds.TakeLapsed(holds.EarliestEnd);
        Assert.Equal(DateTimeOffset.MaxValue, holds.EarliestEnd);

        var entries = new ShardEntries(new ChangeLog(), new HoldLeases(), persist: false, shards: 4);
        entries.Apply(Online("ann", 1, T0), T0);
        var due = entries.EarliestDue;
        entries.ApplyDue(due);
        Assert.True(entries.EarliestDue > due);
    }

    [Fact]
    public void Only_a_refresh_of_a_listed_user_that_keeps_its_status_and_has_nothing_due_at_once_is_sure_to_log_nothing()
    {
        var log = new ChangeLog();
        var entries = new ShardEntries(log, new HoldLeases(), persist: false, shards: 4);
        entries.Apply(Online("ann", 1, T0), T0);
        var at = T0.AddSeconds(10);

        Assert.False(entries.MayLog(Online("ann", 2, at), at));
        Assert.True(entries.MayLog(Online("ann", 2, at, status: "busy"), at));
        Assert.True(entries.MayLog(Online("bob", 1, at), at));
        Assert.True(entries.MayLog(new IndexUpdate("ann", 2, Profile, at, null, []), at));
        Assert.True(entries.MayLog(Online("ann", 2, at, minutes: 0), at)); // its end due at once

        log.TakeFresh();
        entries.Apply(Online("ann", 2, at), at);
        Assert.Null(log.TakeFresh()); // what MayLog said
    }
}
