using Microsoft.Extensions.DependencyInjection;
using Presence.Grains.Index;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

/// <summary>Reads of one user answered by its index shard: by a grain call (Find) and, in the shard's own process, without one.</summary>
[Collection(ClusterCollection.Name)]
public sealed class IndexReadTests(ClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("ann", "Ann", "https://example.test/ann.png");

    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    private IPresenceIndexGrain ShardOf(string tenant, string id)
        => fixture.Grains.GetGrain<IPresenceIndexGrain>(ClusterFixture.RootKey(tenant));

    /// <summary>The silo-local read, from the silo where the tenant's root is active, in its pool (activating it first).</summary>
    private async Task<(bool Answered, UserPresence? View)> ReadLocally(string tenant, string id)
    {
        var shard = ShardOf(tenant, id);
        await shard.List(null, 1);
        Assert.True(fixture.Cluster.TryGetGrainContext(fixture.Pool(tenant).GetGrainId(), out var context));
        var local = context.ActivationServices.GetRequiredService<LocalIndexShards>();
        var answered = local.TryFind(tenant, PresenceKeys.ShardOf(id, ClusterFixture.Shards), id, out var view);
        return (answered, view);
    }

    [Fact]
    public async Task A_shard_reads_an_online_user_exactly_as_the_users_own_grain_does()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "ann");
        await user.Update(new PresenceUpdate("device:web_1", PresenceStatus.Online, TimeSpan.FromMinutes(10), Profile));
        await user.SetManualStatus(new ManualStatus("away", "lunch", false, null));
        var expected = await user.Get();
        Assert.Equal("away", expected.Status);

        Assert.Equal(expected, await ShardOf(tenant, "ann").FindView("ann"));
        Assert.Equal((true, expected), await ReadLocally(tenant, "ann"));
        Assert.Equal(expected, await user.Get(own: true)); // a visible user sees itself as others do
    }

    [Fact]
    public async Task A_step_that_is_due_counts_before_the_shards_timer_moves_it()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "ann");
        await user.Update(new PresenceUpdate("device:web_1", PresenceStatus.Online, TimeSpan.FromMinutes(10), Profile));
        await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(1), Profile));
        Assert.Equal("busy", (await ReadLocally(tenant, "ann")).View?.Status);

        fixture.Time.Advance(TimeSpan.FromMinutes(1)); // no delay: no timer had a chance to run
        Assert.Equal(PresenceStatus.Online, (await ReadLocally(tenant, "ann")).View?.Status);
        Assert.Equal(PresenceStatus.Online, (await ShardOf(tenant, "ann").FindView("ann"))?.Status);

        fixture.Time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal((true, null), await ReadLocally(tenant, "ann"));
        Assert.Null(await ShardOf(tenant, "ann").FindView("ann"));
        Assert.Equal(PresenceStatus.Offline, (await user.Get()).Status);
    }

    [Fact]
    public async Task Offline_invisible_and_unknown_users_are_left_to_their_own_grain()
    {
        var tenant = Keys.Tenant();
        var ann = User(tenant, "ann");
        await ann.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        await ann.SetInvisible(true);
        Assert.Null(await ShardOf(tenant, "ann").FindView("ann"));
        Assert.Equal((true, null), await ReadLocally(tenant, "ann"));

        var bob = User(tenant, "bob");
        await bob.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, Profile));
        await bob.Update(new PresenceUpdate(PresenceSources.Api, null, null, Profile));
        Assert.Null(await ShardOf(tenant, "bob").FindView("bob"));
        Assert.Null(await ShardOf(tenant, "nobody").FindView("nobody"));
        Assert.Equal((true, null), await ReadLocally(tenant, "nobody"));
    }

    [Fact]
    public async Task A_shard_does_not_answer_for_a_user_that_belongs_to_another_shard()
    {
        var tenant = Keys.Tenant();
        var id = Enumerable.Range(0, 100).Select(i => $"m{i}").First(u => PresenceKeys.ShardOf(u, ClusterFixture.Shards) != 0);
        var shard = fixture.Grains.GetGrain<IPresenceIndexGrain>(PresenceKeys.ShardKey(tenant, 0));
        var now = fixture.Time.GetUtcNow();
        // As a snapshot restored under another shard count would have it.
        await shard.Apply([new IndexUpdate(id, 1, Profile, now, "busy", [new StatusStep(now.AddMinutes(5), null)])]);

        Assert.Single((await shard.List(null, 10)).Users); // listed, as before
        Assert.Null(await shard.FindView(id));
    }

    [Fact]
    public async Task A_shard_going_away_stops_answering_locally_and_the_next_activation_answers()
    {
        var tenant = Keys.Tenant();
        await User(tenant, "ann").Update(new PresenceUpdate(PresenceSources.Api, "busy", TimeSpan.FromMinutes(5), Profile));
        var shard = ShardOf(tenant, "ann");
        await shard.List(null, 1);
        Assert.True(fixture.Cluster.TryGetGrainContext(fixture.Pool(tenant).GetGrainId(), out var context));
        var local = context.ActivationServices.GetRequiredService<LocalIndexShards>();
        var index = PresenceKeys.ShardOf("ann", ClusterFixture.Shards);
        Assert.True(local.TryFind(tenant, index, "ann", out var view));
        Assert.Equal("busy", view?.Status);

        await fixture.DeactivateIndex(tenant);
        Assert.False(local.TryFind(tenant, index, "ann", out _)); // nothing here answers: the caller calls the shard

        Assert.Equal("busy", (await shard.FindView("ann"))?.Status); // restored from its snapshot
        var (answered, again) = await ReadLocally(tenant, "ann");
        Assert.True(answered);
        Assert.Equal("busy", again?.Status);
    }

    [Fact]
    public async Task A_reader_on_another_thread_never_sees_half_of_a_change()
    {
        var entry = new IndexEntry("ann", 0);
        var now = DateTimeOffset.UtcNow;
        var a = (Profile: new UserProfile("a", "A", null), Status: "a", Text: "A", Steps: new[] { new StatusStep(now.AddMinutes(1), null) });
        var b = (Profile: new UserProfile("b", "B", null), Status: "b", Text: "B", Steps: new[] { new StatusStep(now.AddMinutes(2), "b2"), new StatusStep(now.AddMinutes(3), null) });
        void Write(bool first)
        {
            var next = first ? a : b;
            entry.BeginChange();
            entry.Profile = next.Profile;
            entry.Status = next.Status;
            entry.StatusText = next.Text;
            entry.LastSeenAt = first ? now : now.AddSeconds(1);
            entry.Steps = next.Steps;
            entry.NextStep = 0;
            entry.EndChange();
        }
        Assert.False(entry.TryRead(now, out _)); // a new entry is unreadable until its first change ends
        Write(true);

        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var writer = Task.Run(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                Write(i % 2 == 0);
            }
        });
        var reads = 0;
        var mixed = 0;
        while (!stop.IsCancellationRequested)
        {
            if (entry.TryRead(now.AddSeconds(150), out var view))
            {
                reads++;
                // At 2:30 "a" has expired (not listed) and "b" is at its second step: anything else mixes the two.
                if (view is not null && (view.Status != "b2" || view.Profile != b.Profile || view.StatusText != "B" || view.LastSeenAt != now.AddSeconds(1)))
                {
                    mixed++;
                }
            }
        }
        await writer;
        Assert.True(reads > 0, "the reader read at least once");
        Assert.Equal(0, mixed);
    }
}
