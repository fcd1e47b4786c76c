using Presence.Grains.Storage;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>
/// A silo whose index nodes store their rows (as with PostgreSQL) applies a heartbeat of a listed user to its node in
/// the same process without a call: the row is written with the node's other refreshes, within the coalescing window,
/// as it is when the heartbeat comes by a call, and at the latest when the node goes. Anything else (a change of
/// status, text or profile, a first or last user) still goes by a call and is stored before it is acknowledged.
/// </summary>
[Collection(PersistedOneSiloClusterCollection.Name)]
public sealed class IndexHeartbeatsHereTests(PersistedOneSiloClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("ann", "Ann", null);

    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    private Task<Dictionary<string, string?>> Listed(string tenant) => fixture.Grains.ListedStatuses(tenant);

    /// <summary>A user's row in its tenant's root node as stored: its status and the end of its timeline.</summary>
    private async Task<(string? Status, DateTimeOffset End)> Stored(string tenant, string id)
    {
        var update = await fixture.ReadRow<IndexUpdate>(CollectionKind.IndexShard, ClusterFixture.RootKey(tenant), "e:" + id);
        return (update.Status, update.Steps[^1].At);
    }

    [Fact]
    public async Task Heartbeats_reach_the_node_without_a_call_and_are_written_with_its_refreshes()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile)); // the node's first user: by a call
        var (_, first) = await Stored(tenant, "ann");
        var calls = fixture.ApplyCalls.Count;

        await fixture.Advance(TimeSpan.FromSeconds(20));
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));
        Assert.Equal(calls, fixture.ApplyCalls.Count);
        Assert.Equal(first, (await Stored(tenant, "ann")).End); // acknowledged without a write of the node

        await fixture.Advance(TimeSpan.FromMinutes(1));
        await Poll.Until(async () => (await Stored(tenant, "ann")).End == first.AddSeconds(20), "the node wrote the heartbeat with its periodic write of refreshes");
        Assert.Equal(calls, fixture.ApplyCalls.Count);
    }

    [Fact]
    public async Task Changes_of_status_and_profile_go_by_a_call_and_are_stored_before_they_are_acknowledged()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));

        var calls = fixture.ApplyCalls.Count;
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "away", TimeSpan.FromMinutes(15), Profile));
        Assert.Equal(calls + 1, fixture.ApplyCalls.Count);
        Assert.Equal("away", (await Stored(tenant, "ann")).Status);

        await ann.Update(new PresenceUpdate(PresenceSources.Api, "away", TimeSpan.FromMinutes(15), Profile with { Name = "Annie" }));
        Assert.Equal(calls + 2, fixture.ApplyCalls.Count);

        await ann.Update(new PresenceUpdate(PresenceSources.Api, null, null, null)); // the last user of the node
        Assert.Equal(calls + 3, fixture.ApplyCalls.Count);
        Assert.DoesNotContain((await fixture.Collections.LoadAsync(CollectionKind.IndexShard, ClusterFixture.RootKey(tenant), default)).Items, i => i.Key == "e:ann");
    }

    [Fact]
    public async Task Heartbeats_applied_here_are_written_when_the_node_goes()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));
        var (_, first) = await Stored(tenant, "ann");
        var calls = fixture.ApplyCalls.Count;

        await fixture.Advance(TimeSpan.FromSeconds(20));
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));
        Assert.Equal(calls, fixture.ApplyCalls.Count);

        await fixture.DeactivateIndex(tenant); // a rolling restart: the node goes before its refreshes were due
        Assert.Equal(("busy", first.AddSeconds(20)), await Stored(tenant, "ann"));
        Assert.Equal(new Dictionary<string, string?> { ["ann"] = "busy" }, await Listed(tenant));
    }

    [Fact]
    public async Task After_a_failed_write_a_heartbeat_is_acknowledged_only_once_its_node_stored_it()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(15), Profile));

        fixture.CollectionWritesFail = true;
        try
        {
            // The node applies the change in memory, fails to store it, and the caller is told.
            await Assert.ThrowsAnyAsync<Exception>(() => ann.Update(new PresenceUpdate(PresenceSources.Api, "away", TimeSpan.FromMinutes(15), Profile)));
        }
        finally
        {
            fixture.CollectionWritesFail = false;
        }

        // Her next update repeats what the node's memory already holds, but not its storage: it must not pass as a
        // heartbeat. Acknowledged only once stored (its node's failed activation goes; the next one loads the rows).
        await Poll.Until(async () =>
        {
            try
            {
                await ann.Update(new PresenceUpdate(PresenceSources.Api, "away", TimeSpan.FromMinutes(15), Profile));
                return true;
            }
            catch (Presence.Storage.StorageUnavailableException)
            {
                return false;
            }
        }, "an update acknowledged once the node is back");
        Assert.Equal("away", (await Stored(tenant, "ann")).Status);
    }

    [Fact]
    public async Task Many_users_updated_at_once_end_listed_and_stored_exactly_as_their_grains_say()
    {
        var tenant = Keys.Tenant();
        var ids = Enumerable.Range(0, 6 * ClusterFixture.SplitAt).Select(i => $"u{i:D3}").ToArray(); // enough to split
        string[] statuses = [PresenceStatus.Online, "busy", "away", PresenceStatus.Offline];
        var random = new Random(11);
        var current = ids.ToDictionary(id => id, _ => PresenceStatus.Online);
        var calls = fixture.ApplyCalls.Count;
        var updates = 0;
        var bursts = new List<Task>();
        for (var round = 0; round < 8; round++)
        {
            foreach (var id in ids)
            {
                // Mostly heartbeats (the same status again), as clients send them.
                var status = current[id] = random.Next(4) == 0 ? statuses[random.Next(statuses.Length)] : current[id];
                var user = User(tenant, id);
                bursts.Add(status == PresenceStatus.Offline
                    ? user.Update(new PresenceUpdate(PresenceSources.Api, null, null, Profile))
                    : user.Update(new PresenceUpdate(PresenceSources.Api, status, TimeSpan.FromSeconds(random.Next(120, 600)), Profile)));
                updates++;
            }
            bursts.Add(Listed(tenant));
            if (round % 3 == 2)
            {
                bursts.Add(fixture.Advance(TimeSpan.FromSeconds(20))); // timer turns (and refresh writes) among the updates
            }
        }
        await Task.WhenAll(bursts);
        Assert.True(fixture.ApplyCalls.Count - calls < updates, "some heartbeats were applied without a call");

        await Poll.Until(() => fixture.Grains.ListsAsGrainsSay(tenant, ids), "every user listed as its grain says");

        // What the nodes stored is as complete: brought back from their rows alone, they list the same.
        await fixture.DeactivateIndex(tenant);
        await Poll.Until(() => fixture.Grains.ListsAsGrainsSay(tenant, ids), "every user listed as its grain says, from the nodes' rows");
    }
}
