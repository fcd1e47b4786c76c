using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Events;
using Presence.Gateway.Auth;
using Presence.Gateway.Realtime;
using Presence.Grains.Hosting;
using Presence.Grains.Index;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;
using System.Diagnostics.Metrics;

namespace Presence.Tests.Grains;

/// <summary>
/// Gateways' event hubs against a real cluster: grains call each gateway once per change, however many of its
/// connections watch, and a consumer that falls behind is dropped without holding anyone else up.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class EventFanOutTests(ClusterFixture fixture)
{
    private static readonly IMeterFactory Meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    // Orleans holds an observer made by CreateObjectReference weakly (a gateway's hub is a singleton of its services):
    // the test keeps its gateways' hubs, or a collection would take one, and its notifications, mid-test.
    private readonly List<PresenceEventHub> _gateways = [];

    private (PresenceEventHub Hub, RealtimeMetrics Metrics) Gateway()
    {
        var metrics = new RealtimeMetrics(Meters);
        var options = Options.Create(new PresenceIndexOptions { Shards = ClusterFixture.Shards });
        var grains = new PresenceGrains(fixture.Grains, new IndexLayout(options), new IndexNodes(fixture.Grains, options));
        var hub = new PresenceEventHub(fixture.Grains, grains, metrics, NullLogger<PresenceEventHub>.Instance);
        _gateways.Add(hub);
        return (hub, metrics);
    }

    [Fact]
    public async Task Grain_calls_per_change_grow_with_gateways_not_with_connections()
    {
        var tenant = Keys.Tenant();
        var (crowded, crowdedMetrics) = Gateway();
        var (quiet, quietMetrics) = Gateway();
        var many = Enumerable.Range(0, 500).Select(i => new RecordingConnection(tenant, "viewer" + i, users: ["star"])).ToList();
        var one = new RecordingConnection(tenant, "solo", users: ["star"]);
        foreach (var connection in many)
        {
            await Attach(crowded, connection);
        }
        await Attach(quiet, one);

        await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "star"))
            .Update(new PresenceUpdate(PresenceSources.Api, "live", null, null));

        await Poll.Until(() => many.All(c => c.Events.Count == 1) && one.Events.Count == 1, "every connection got the change");
        Assert.Equal(1, crowdedMetrics.Notifications);
        Assert.Equal(1, quietMetrics.Notifications);
        Assert.Contains("\"status\":\"live\"", many[0].Events[0]);
    }

    [Fact]
    public async Task A_channel_with_many_watchers_tells_each_gateway_once_per_change()
    {
        var tenant = Keys.Tenant();
        var channel = fixture.Grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "stage"));
        await channel.Subscribe("singer", null);
        var (hub, metrics) = Gateway();
        var watchers = Enumerable.Range(0, 300).Select(i => new RecordingConnection(tenant, "fan" + i, channels: ["stage"])).ToList();
        foreach (var watcher in watchers)
        {
            await Attach(hub, watcher);
        }

        await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "singer"))
            .SetChannelPresence("stage", new ChannelPresenceUpdate("singer", "singing", null, null));

        await Poll.Until(() => watchers.All(w => w.Events.Count == 1), "every watcher got the channel change");
        Assert.Equal(1, metrics.Notifications);
        Assert.Contains("channel.presence.changed", watchers[^1].Events[0]);

        // A member's own status: once more per gateway, not per watcher.
        await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "singer"))
            .Update(new PresenceUpdate(PresenceSources.Api, "on stage", null, null));
        await Poll.Until(() => watchers.All(w => w.Events.Count == 2), "every watcher got the member's change");
        Assert.Equal(2, metrics.Notifications);
    }

    [Fact]
    public async Task A_consumer_that_falls_behind_is_dropped_and_the_others_still_get_everything()
    {
        var tenant = Keys.Tenant();
        var (hub, _) = Gateway();
        var stuck = new RecordingConnection(tenant, "stuck", users: ["jumpy"], sendBuffer: 2, pump: false);
        var healthy = new RecordingConnection(tenant, "ok", users: ["jumpy"]);
        await Attach(hub, stuck);
        await Attach(hub, healthy);
        var jumpy = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "jumpy"));
        foreach (var status in new[] { "a", "b", "c", "d" })
        {
            await jumpy.Update(new PresenceUpdate(PresenceSources.Api, status, null, null));
            await Poll.Until(() => healthy.Events.Any(e => e.Contains($"\"status\":\"{status}\"")), $"status {status} delivered");
        }
        Assert.NotNull(stuck.DroppedBecause);
        Assert.True(stuck.Aborted);
    }

    [Fact]
    public async Task A_detached_connection_gets_nothing_and_its_watches_are_released()
    {
        var tenant = Keys.Tenant();
        var (hub, metrics) = Gateway();
        var gone = new RecordingConnection(tenant, "gone", users: ["kim"]);
        await Attach(hub, gone);
        hub.Detach(gone);
        await Task.Delay(200); // unregistration is in the background
        await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "kim"))
            .Update(new PresenceUpdate(PresenceSources.Api, "here", null, null));
        await Task.Delay(300);
        Assert.Empty(gone.Events);
        Assert.Equal(0, metrics.Notifications);
    }

    [Fact]
    public async Task A_watch_goes_with_its_user_when_the_node_holding_it_splits()
    {
        var tenant = Keys.Tenant();
        var (hub, _) = Gateway();
        var watcher = new RecordingConnection(tenant, "fan", users: ["star"]);
        await Attach(hub, watcher);
        var star = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, "star"));
        await star.Update(new PresenceUpdate(PresenceSources.Api, "warming up", null, null));
        await Poll.Until(() => watcher.Events.Count == 1, "the first change delivered");

        for (var i = 0; i < 3 * ClusterFixture.SplitAt; i++) // the tenant's root splits, maybe its halves too
        {
            await fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, $"crowd{i}"))
                .Update(new PresenceUpdate(PresenceSources.Api, PresenceStatus.Online, TimeSpan.FromMinutes(5), null));
        }
        Assert.NotNull((await fixture.Grains.GetGrain<Presence.Index.IPresenceIndexGrain>(ClusterFixture.RootKey(tenant)).List(0, null, 1)).Cuts);

        await star.Update(new PresenceUpdate(PresenceSources.Api, "live", null, null));
        await Poll.Until(() => watcher.Events.Any(e => e.Contains("\"status\":\"live\"")), "the change after the split delivered");
    }

    [Fact]
    public async Task A_change_that_arrives_after_a_later_one_of_the_same_user_is_not_delivered()
    {
        // Orleans keeps no order between one-way calls: a shard's two batches may reach the gateway swapped.
        var tenant = Keys.Tenant();
        var (hub, metrics) = Gateway();
        var watcher = new RecordingConnection(tenant, "fan", users: ["star", "moon"]);
        await Attach(hub, watcher);
        var now = DateTimeOffset.UtcNow;
        PresenceChange Change(string user, string status, long version, double seconds)
            => new(now.AddSeconds(seconds), user, new UserProfile(user, null, null), status, now, Version: version);

        await hub.OnUserChanges(tenant, [Change("star", "latest", 5, 2)]);
        await hub.OnUserChanges(tenant, [Change("star", "earlier update", 4, 3), Change("moon", "up", 1, 1)]);
        await hub.OnUserChanges(tenant, [Change("star", "earlier step", 5, 1)]);
        // A later update logged by a silo whose clock is behind: its version says it is later.
        await hub.OnUserChanges(tenant, [Change("star", "next update", 6, 0)]);
        await hub.OnUserChanges(tenant, [Change("star", "its step", 6, 0)]);

        await Poll.Until(() => watcher.Events.Count == 4, "the later changes delivered");
        Assert.Contains("\"status\":\"latest\"", watcher.Events[0]);
        Assert.Contains("\"status\":\"up\"", watcher.Events[1]); // another user's changes have their own order
        Assert.Contains("\"status\":\"next update\"", watcher.Events[2]);
        Assert.Contains("\"status\":\"its step\"", watcher.Events[3]); // the same instant is not older
        Assert.DoesNotContain(watcher.Events, e => e.Contains("earlier"));
        Assert.Equal(2, metrics.SupersededChanges);
    }

    [Fact]
    public async Task A_channel_members_change_that_arrives_after_a_later_one_of_the_same_member_is_not_delivered()
    {
        var tenant = Keys.Tenant();
        await fixture.Grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "hall")).Subscribe("star", null);
        var (hub, metrics) = Gateway();
        var watcher = new RecordingConnection(tenant, "fan", channels: ["hall"]);
        await Attach(hub, watcher);
        var now = DateTimeOffset.UtcNow;
        ChannelChange Change(string member, string status, double seconds)
            => new(ChannelChangeKind.Presence, new ChannelMember(member, new UserProfile(member, null, null), status, now, Subscribed: true), now.AddSeconds(seconds));

        await hub.OnChannelChanges(tenant, "hall", [Change("star", "latest", 2)]);
        await hub.OnChannelChanges(tenant, "hall", [Change("star", "earlier", 1), Change("moon", "up", 0)]);
        await hub.OnChannelChanges(tenant, "hall", [Change("star", "same instant", 2)]);

        await Poll.Until(() => watcher.Events.Count == 3, "the later changes delivered");
        Assert.Contains("\"presence\":\"latest\"", watcher.Events[0]);
        Assert.Contains("\"presence\":\"up\"", watcher.Events[1]); // another member's changes have their own order
        Assert.Contains("\"presence\":\"same instant\"", watcher.Events[2]);
        Assert.DoesNotContain(watcher.Events, e => e.Contains("earlier"));
        Assert.Equal(1, metrics.SupersededChanges);

        // The channel moved to a silo whose clock is behind: its next change, made "earlier", is not a reordered call.
        await Task.Delay(TimeSpan.FromSeconds(2.1));
        await hub.OnChannelChanges(tenant, "hall", [Change("star", "after a move", 1.5)]);
        await Poll.Until(() => watcher.Events.Count == 4, "the moved channel's change delivered");
        Assert.Contains("\"presence\":\"after a move\"", watcher.Events[3]);
    }

    /// <summary>As a stream does: registered, then opened with its first event (which the recorder leaves out).</summary>
    private static async Task Attach(PresenceEventHub hub, StreamConnection connection)
    {
        await hub.AttachAsync(connection, CancellationToken.None);
        connection.Open(new EventFrame("{\"type\":\"health.check\"}"u8.ToArray()));
    }

    /// <summary>A connection that records what it is sent (or, with pump false, whose first write never completes).</summary>
    private sealed class RecordingConnection : StreamConnection
    {
        private readonly List<string> _events = [];
        private readonly bool _pump;

        public RecordingConnection(string tenant, string user, string[]? users = null, string[]? channels = null, int sendBuffer = 64, bool pump = true)
            : base(new Caller(tenant, user, false, UserProfile.Empty), users ?? [], channels ?? [], sendBuffer)
        {
            _pump = pump;
            Start(CancellationToken.None);
        }

        public List<string> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        public bool Aborted { get; private set; }

        public override bool NeedsKeepAlive => false;

        protected override ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken)
        {
            if (!_pump)
            {
                // A consumer that never reads: the write never completes.
                return new ValueTask(new TaskCompletionSource().Task);
            }
            var text = frame.ToString();
            if (!text.Contains("health.check", StringComparison.Ordinal))
            {
                lock (_events)
                {
                    _events.Add(text);
                }
            }
            return ValueTask.CompletedTask;
        }

        protected override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        protected override void Abort() => Aborted = true;
    }
}
