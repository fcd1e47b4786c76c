using Presence.Channels;
using Presence.Events;
using Presence.Index;

namespace Presence.Gateway.Realtime;

/// <summary>
/// This gateway's end of realtime presence. It is the one observer the grains know of this gateway: it registers
/// with index shards the users its connections watch (directly, or as members of a watched channel) and with
/// channel grains the channels they watch, each once however many connections want it, and fans every change it
/// is told out to its own connections. Registrations are renewed every <see cref="GatewayWatch.Renewal"/>, which
/// also repairs them after a grain moved or a silo died.
/// </summary>
public sealed partial class PresenceEventHub(
    IGrainFactory grains,
    IPresenceGrains presence,
    RealtimeMetrics metrics,
    ILogger<PresenceEventHub> logger) : IPresenceEventsObserver
{
    private readonly Guid _gateway = Guid.NewGuid();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TenantWatches> _tenants = new(StringComparer.Ordinal);
    private readonly HashSet<StreamConnection> _connections = [];
    // Registrations with grains happen one at a time, so adds and removes reach them in order.
    private readonly SemaphoreSlim _registration = new(1, 1);
    private GatewayWatch? _watch;

    /// <summary>Registers what the connection watches; once this returns, every later change reaches it.</summary>
    public async Task AttachAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await WatchAsync(connection, connection.Users, connection.Channels, limits: null, cancellationToken, attach: true);
        }
        catch
        {
            Detach(connection);
            throw;
        }
    }

    /// <summary>
    /// Adds users and channels to what an attached connection watches (Stream's queries with <c>presence</c> or
    /// <c>watch</c>), unless that would take it past <paramref name="limits"/>; once this returns
    /// <see cref="WatchResult.Watching"/>, every later change of them reaches it.
    /// </summary>
    public async Task<WatchResult> WatchMoreAsync(StreamConnection connection, string[] users, string[] channels, RealtimeOptions limits, CancellationToken cancellationToken)
        => await WatchAsync(connection, users, channels, limits, cancellationToken);

    public enum WatchResult
    {
        Watching,

        /// <summary>The connection closed.</summary>
        Gone,

        /// <summary>It would watch more users or channels than a connection may.</summary>
        TooMany,
    }

    private async Task<WatchResult> WatchAsync(StreamConnection connection, string[] users, string[] channels, RealtimeOptions? limits, CancellationToken cancellationToken, bool attach = false)
    {
        await _registration.WaitAsync(cancellationToken);
        try
        {
            var watch = Watch();
            var added = new List<string>();
            var newChannels = new List<ChannelWatch>();
            TenantWatches tenant;
            lock (_lock)
            {
                if (attach)
                {
                    _connections.Add(connection);
                }
                else if (!_connections.Contains(connection))
                {
                    return WatchResult.Gone;
                }
                else
                {
                    // Only what it does not watch yet, and all of it or nothing: within the connection's limits.
                    users = [.. users.Except(connection.Users, StringComparer.Ordinal)];
                    channels = [.. channels.Except(connection.Channels, StringComparer.Ordinal)];
                    if (connection.Users.Length + users.Length > limits!.MaxUsersPerConnection
                        || connection.Channels.Length + channels.Length > limits.MaxChannelsPerConnection)
                    {
                        return WatchResult.TooMany;
                    }
                    connection.Users = [.. connection.Users, .. users];
                    connection.Channels = [.. connection.Channels, .. channels];
                }
                tenant = Tenant(connection.Caller.Tenant);
                foreach (var userId in users)
                {
                    var user = tenant.User(userId);
                    var was = user.IsWatched;
                    user.Direct.Add(connection);
                    if (!was)
                    {
                        added.Add(userId);
                    }
                }
                foreach (var channelId in channels)
                {
                    var channel = tenant.Channel(channelId);
                    if (channel.Connections.Add(connection) && channel.Connections.Count == 1 && !channel.Registered)
                    {
                        newChannels.Add(channel);
                    }
                }
            }
            var removed = new List<string>();
            var lost = new List<ChannelWatch>();
            foreach (var channel in newChannels)
            {
                var result = await Channel(tenant, channel.ChannelId).Watch(watch, null);
                channel.Registered = true;
                lock (_lock)
                {
                    if (!tenant.Channels.TryGetValue(channel.ChannelId, out var current) || !ReferenceEquals(current, channel))
                    {
                        continue; // its connections left meanwhile (a close, a stop-watching): its members are not to be linked
                    }
                    if (!Resync(tenant, channel, result, added, removed))
                    {
                        lost.Add(channel);
                    }
                }
            }
            await RegisterUsers(tenant, added, removed, cancellationToken);
            foreach (var channel in lost)
            {
                _ = ResyncInBackground(tenant, channel);
            }
            return WatchResult.Watching;
        }
        finally
        {
            _registration.Release();
        }
    }

    /// <summary>Stops the connection watching a channel (Stream's stop-watching); unregistered in the background if nobody else does.</summary>
    public void Unwatch(StreamConnection connection, string channelId)
    {
        var removed = new List<string>();
        var idleChannels = new List<ChannelWatch>();
        TenantWatches tenant;
        lock (_lock)
        {
            if (!_connections.Contains(connection) || !connection.Channels.Contains(channelId, StringComparer.Ordinal))
            {
                return;
            }
            connection.Channels = [.. connection.Channels.Where(c => c != channelId)];
            tenant = Tenant(connection.Caller.Tenant);
            LeaveChannel(tenant, connection, channelId, removed, idleChannels);
        }
        if (removed.Count > 0 || idleChannels.Count > 0)
        {
            _ = UnregisterAsync(tenant, removed, idleChannels);
        }
    }

    private static void LeaveChannel(TenantWatches tenant, StreamConnection connection, string channelId, List<string> removed, List<ChannelWatch> idleChannels)
    {
        if (tenant.Channels.TryGetValue(channelId, out var channel) && channel.Connections.Remove(connection) && channel.Connections.Count == 0)
        {
            tenant.Channels.Remove(channelId);
            SetMembers(tenant, channel, [], added: null, removed);
            idleChannels.Add(channel);
        }
    }

    /// <summary>Forgets the connection; what nobody watches any more is unregistered in the background.</summary>
    public void Detach(StreamConnection connection)
    {
        var removed = new List<string>();
        var idleChannels = new List<ChannelWatch>();
        TenantWatches tenant;
        lock (_lock)
        {
            if (!_connections.Remove(connection))
            {
                return;
            }
            tenant = Tenant(connection.Caller.Tenant);
            foreach (var userId in connection.Users)
            {
                if (tenant.Users.TryGetValue(userId, out var user) && user.Direct.Remove(connection) && !user.IsWatched)
                {
                    tenant.Users.Remove(userId);
                    removed.Add(userId);
                }
            }
            foreach (var channelId in connection.Channels)
            {
                LeaveChannel(tenant, connection, channelId, removed, idleChannels);
            }
        }
        if (removed.Count > 0 || idleChannels.Count > 0)
        {
            _ = UnregisterAsync(tenant, removed, idleChannels);
        }
    }

    /// <summary>Ends every stream (at shutdown): each closes as if its client had left.</summary>
    public void EndAll()
    {
        foreach (var connection in Snapshot())
        {
            connection.Shutdown();
        }
    }

    /// <summary>
    /// Keep-alives, one shared frame: an SSE comment, or a WebSocket ping, for every stream that needs one. Spread over
    /// <paramref name="spread"/> in slices: ten thousand pings at once come back as ten thousand pongs at once, a burst
    /// of reads that delays whatever change is being delivered meanwhile.
    /// </summary>
    public async Task SendKeepAlivesAsync(TimeSpan spread, CancellationToken cancellationToken)
    {
        const int slice = 500;
        var targets = Snapshot().Where(c => c.NeedsKeepAlive).ToList();
        var slices = (targets.Count + slice - 1) / slice;
        for (var i = 0; i < slices; i++)
        {
            if (i > 0)
            {
                await Task.Delay(spread / slices, cancellationToken);
            }
            for (var c = i * slice; c < Math.Min(targets.Count, (i + 1) * slice); c++)
            {
                targets[c].Post(EventFrame.KeepAlive);
            }
        }
    }

    /// <remarks>
    /// Orleans does not keep one-way calls in order, and this gateway takes them on any thread: a shard's batch for a
    /// user may arrive after a later one. A change older than the last one delivered for its user is dropped, so a
    /// stream never ends on a status the user has left; a user's changes are delivered one at a time, in that order.
    /// Older is by the user's update version first (it only grows for a user, whichever silo's clock logged the
    /// change), then, within one update (its change and the steps of its timeline), by the time it was logged.
    /// </remarks>
    public Task OnUserChanges(string tenantName, PresenceChange[] changes)
    {
        metrics.Notified();
        foreach (var change in changes)
        {
            List<StreamConnection> targets;
            UserWatch? user;
            lock (_lock)
            {
                if (!_tenants.TryGetValue(tenantName, out var tenant) || !tenant.Users.TryGetValue(change.UserId, out user))
                {
                    continue;
                }
                targets = user.Targets();
            }
            lock (user.Delivering)
            {
                if ((change.Version, change.At).CompareTo(user.LastChange) < 0)
                {
                    metrics.Superseded();
                    continue;
                }
                user.LastChange = (change.Version, change.At);
                Deliver(targets, new ShapedEvent(shape => shape == EventShape.StreamChat
                    ? Stream.StreamChatEvents.UserChanged(change)
                    : RealtimeEvents.UserChanged(change)));
            }
        }
        return Task.CompletedTask;
    }

    public Task OnChannelChanges(string tenantName, string channelId, ChannelChange[] changes)
    {
        metrics.Notified();
        var added = new List<string>();
        var removed = new List<string>();
        ChannelWatch? lost = null;
        TenantWatches? tenant;
        lock (_lock)
        {
            if (!_tenants.TryGetValue(tenantName, out tenant))
            {
                return Task.CompletedTask;
            }
        }
        foreach (var change in changes)
        {
            List<StreamConnection> targets;
            ChannelWatch watch;
            lock (_lock)
            {
                if (!tenant.Channels.TryGetValue(channelId, out var channel))
                {
                    break;
                }
                if (change.Kind is ChannelChangeKind.Joined or ChannelChangeKind.Left)
                {
                    if (!FollowMembership(tenant, channel, change, added, removed))
                    {
                        lost ??= channel;
                    }
                    continue;
                }
                targets = [.. channel.Connections];
                watch = channel;
            }
            var presence = change;
            // As for a user's changes: a member's change that arrives after a later one of the same member (Orleans keeps
            // no order between one-way calls) is not delivered, and one channel's changes go out one at a time.
            lock (watch.Delivering)
            {
                if (!watch.TakePresence(change.Member.UserId, change.At))
                {
                    metrics.Superseded();
                    continue;
                }
                Deliver(targets, new ShapedEvent(shape => shape == EventShape.StreamChat
                    ? Stream.StreamChatEvents.Watching(channelId, presence)
                    : RealtimeEvents.ChannelChanged(channelId, presence.Member, presence.At)));
            }
        }
        if (added.Count > 0 || removed.Count > 0)
        {
            _ = RegisterInBackground(tenant, added, removed);
        }
        if (lost is not null)
        {
            _ = ResyncInBackground(tenant, lost);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Applies a join or leave in sequence. Before the channel's set is known (its first watch is under way, or a gap
    /// was seen) changes wait to be replayed on top of the set. False when this change shows one was missed: the set
    /// must be asked for again.
    /// </summary>
    private static bool FollowMembership(TenantWatches tenant, ChannelWatch channel, ChannelChange change, List<string> added, List<string> removed)
    {
        if (channel.Sequence is not { } known)
        {
            (channel.Pending ??= []).Add(change);
            return true;
        }
        if (change.Sequence <= known)
        {
            return true; // already in the set this gateway holds
        }
        if (change.Sequence > known + 1)
        {
            channel.Sequence = null;
            (channel.Pending ??= []).Add(change);
            return false;
        }
        if (change.Kind == ChannelChangeKind.Joined)
        {
            Link(tenant, channel, change.Member.UserId, added);
        }
        else
        {
            Unlink(tenant, channel, change.Member.UserId, removed);
        }
        channel.Sequence = change.Sequence;
        return true;
    }

    /// <summary>
    /// Takes the channel's subscriber set as the channel gave it, then replays the changes that came after it. A set
    /// older than what the gateway already followed (changes overtook the answer) is ignored. False when the replay met
    /// a gap: the set must be asked for again.
    /// </summary>
    private static bool Resync(TenantWatches tenant, ChannelWatch channel, ChannelWatchResult result, List<string> added, List<string> removed)
    {
        if (result.Subscribers is not { } subscribers || channel.Sequence >= result.Sequence)
        {
            return true; // up to date
        }
        SetMembers(tenant, channel, subscribers, added, removed);
        channel.Sequence = result.Sequence;
        var pending = channel.Pending;
        channel.Pending = null;
        var whole = true;
        foreach (var change in (pending ?? []).Where(c => c.Sequence > result.Sequence).OrderBy(c => c.Sequence))
        {
            whole &= FollowMembership(tenant, channel, change, added, removed);
        }
        return whole;
    }

    private async Task ResyncInBackground(TenantWatches tenant, ChannelWatch channel)
    {
        try
        {
            await Serialized(() => RenewChannel(tenant, channel, Watch()));
        }
        catch (Exception error)
        {
            // The next renewal asks again: the gateway's sequence stays unknown until then.
            LogRenewalFailed(error, channel.ChannelId);
        }
    }

    /// <summary>Renews the gateway's watch of one channel, taking its subscriber set again if the gateway's is not current.</summary>
    private async Task RenewChannel(TenantWatches tenant, ChannelWatch channel, GatewayWatch watch)
    {
        if (!IsCurrent(tenant, channel))
        {
            return; // its last connection closed meanwhile
        }
        long? known;
        lock (_lock)
        {
            known = channel.Sequence;
        }
        var result = await Channel(tenant, channel.ChannelId).Watch(watch, known);
        var added = new List<string>();
        var removed = new List<string>();
        bool whole;
        lock (_lock)
        {
            if (!tenant.Channels.TryGetValue(channel.ChannelId, out var current) || !ReferenceEquals(current, channel))
            {
                return;
            }
            whole = Resync(tenant, channel, result, added, removed);
        }
        await RegisterUsers(tenant, added, removed, CancellationToken.None);
        if (!whole)
        {
            _ = ResyncInBackground(tenant, channel);
        }
    }

    /// <summary>
    /// Sends every registration again (shards replace their set for this gateway): grains that moved, restarted or
    /// dropped this gateway learn it back, and channel memberships are brought up to date. Item by item, each under
    /// the registration lock, so streams opening meanwhile wait for one call at most, and one failure costs one item.
    /// </summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        var watch = Watch();
        List<(TenantWatches Tenant, ChannelWatch Channel)> channels;
        List<TenantWatches> tenants;
        lock (_lock)
        {
            tenants = [.. _tenants.Values];
            channels = [.. tenants.SelectMany(t => t.Channels.Values.Select(c => (t, c)))];
        }
        foreach (var (tenant, channel) in channels)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await Serialized(() => RenewChannel(tenant, channel, watch));
            }
            catch (Exception error) when (!cancellationToken.IsCancellationRequested)
            {
                LogRenewalFailed(error, channel.ChannelId);
            }
        }
        foreach (var tenant in tenants)
        {
            // Shard by shard; a shard that got its first user during the round is renewed in the same round.
            var renewed = new HashSet<IndexShard>();
            while (NotYetRenewed(tenant, renewed) is { Length: > 0 } shards)
            {
                foreach (var shard in shards)
                {
                    renewed.Add(shard);
                    cancellationToken.ThrowIfCancellationRequested();
                    try
                    {
                        await Serialized(async () =>
                        {
                            string[] users;
                            lock (_lock)
                            {
                                // Taken now, under the registration lock: nothing registered meanwhile is undone.
                                users = [.. tenant.Users.Keys.Where(u => presence.ShardOf(tenant.Name, u) == shard)];
                            }
                            if (users.Length > 0)
                            {
                                await presence.WatchAsync(shard, watch, users, [], replace: true);
                            }
                        });
                    }
                    catch (Exception error) when (!cancellationToken.IsCancellationRequested)
                    {
                        LogRenewalFailed(error, shard.ToString());
                    }
                }
            }
        }
    }

    private IndexShard[] NotYetRenewed(TenantWatches tenant, HashSet<IndexShard> renewed)
    {
        lock (_lock)
        {
            return [.. tenant.Users.Keys.Select(u => presence.ShardOf(tenant.Name, u)).Distinct().Where(s => !renewed.Contains(s))];
        }
    }

    private bool IsCurrent(TenantWatches tenant, ChannelWatch channel)
    {
        lock (_lock)
        {
            return tenant.Channels.TryGetValue(channel.ChannelId, out var current) && ReferenceEquals(current, channel);
        }
    }

    // Below this many streams one thread writes them all; above, every core takes a share.
    private const int ParallelFanOut = 512;

    private void Deliver(List<StreamConnection> targets, ShapedEvent frame)
    {
        if (targets.Count < ParallelFanOut || Environment.ProcessorCount == 1)
        {
            metrics.Delivered(Post(targets, 0, targets.Count, frame));
            return;
        }
        // Writing an event into a stream's transport buffer is the per-stream cost of a fan-out: split it over
        // the cores, in contiguous slices.
        var slices = Environment.ProcessorCount;
        var size = (targets.Count + slices - 1) / slices;
        var delivered = 0;
        Parallel.For(0, slices, new ParallelOptions { MaxDegreeOfParallelism = slices }, slice =>
        {
            var start = slice * size;
            var count = Math.Min(size, targets.Count - start);
            if (count > 0)
            {
                Interlocked.Add(ref delivered, Post(targets, start, count, frame));
            }
        });
        metrics.Delivered(delivered);
    }

    private int Post(List<StreamConnection> targets, int start, int count, ShapedEvent shaped)
    {
        var delivered = 0;
        for (var i = start; i < start + count; i++)
        {
            var connection = targets[i];
            if (shaped.For(connection.Shape) is not { } frame)
            {
                continue; // not an event of this connection's protocol
            }
            if (connection.Post(frame))
            {
                delivered++;
            }
            else if (connection.DroppedBecause is not null)
            {
                metrics.Dropped();
                LogDropped(connection.Id, connection.DroppedBecause);
            }
        }
        return delivered;
    }

    private async Task UnregisterAsync(TenantWatches tenant, List<string> removed, List<ChannelWatch> idleChannels)
    {
        try
        {
            await Serialized(async () =>
            {
                foreach (var channel in idleChannels)
                {
                    bool watchedAgain;
                    lock (_lock)
                    {
                        // A connection may have watched it again meanwhile (under a new registration).
                        watchedAgain = tenant.Channels.ContainsKey(channel.ChannelId);
                    }
                    if (!watchedAgain)
                    {
                        await Channel(tenant, channel.ChannelId).Unwatch(_gateway);
                    }
                }
                await RegisterUsers(tenant, [], removed, CancellationToken.None);
            });
        }
        catch (Exception error)
        {
            // Harmless: an unrenewed registration lapses by itself.
            LogUnregisterFailed(error);
        }
    }

    private async Task RegisterInBackground(TenantWatches tenant, List<string> added, List<string> removed)
    {
        try
        {
            await Serialized(() => RegisterUsers(tenant, added, removed, CancellationToken.None));
        }
        catch (Exception error)
        {
            // The next renewal registers them.
            LogRenewalFailed(error, "members");
        }
    }

    private async Task Serialized(Func<Task> action)
    {
        await _registration.WaitAsync();
        try
        {
            await action();
        }
        finally
        {
            _registration.Release();
        }
    }

    private async Task RegisterUsers(TenantWatches tenant, List<string> added, List<string> removed, CancellationToken cancellationToken)
    {
        if (added.Count == 0 && removed.Count == 0)
        {
            return;
        }
        lock (_lock)
        {
            // Queued changes may be stale by now: register what is watched, unregister what is not.
            added = [.. added.Where(u => tenant.Users.TryGetValue(u, out var user) && user.IsWatched)];
            removed = [.. removed.Where(u => !tenant.Users.ContainsKey(u))];
        }
        var watch = Watch();
        var calls = added.Select(u => (Shard: presence.ShardOf(tenant.Name, u), User: u, Add: true))
            .Concat(removed.Select(u => (Shard: presence.ShardOf(tenant.Name, u), User: u, Add: false)))
            .GroupBy(x => x.Shard)
            .Select(g => presence.WatchAsync(g.Key, watch,
                [.. g.Where(x => x.Add).Select(x => x.User)],
                [.. g.Where(x => !x.Add).Select(x => x.User)],
                replace: false));
        await Task.WhenAll(calls).WaitAsync(cancellationToken);
    }

    /// <summary>Replaces a channel's member set, linking and unlinking users (collecting who became (un)watched).</summary>
    private static void SetMembers(TenantWatches tenant, ChannelWatch channel, string[] members, List<string>? added, List<string>? removed)
    {
        var next = new HashSet<string>(members, StringComparer.Ordinal);
        foreach (var userId in channel.Members.Where(m => !next.Contains(m)).ToList())
        {
            Unlink(tenant, channel, userId, removed);
        }
        foreach (var userId in next)
        {
            Link(tenant, channel, userId, added);
        }
    }

    private static void Link(TenantWatches tenant, ChannelWatch channel, string userId, List<string>? added)
    {
        if (!channel.Members.Add(userId))
        {
            return;
        }
        var user = tenant.User(userId);
        var was = user.IsWatched;
        user.Channels.Add(channel);
        if (!was)
        {
            added?.Add(userId);
        }
    }

    private static void Unlink(TenantWatches tenant, ChannelWatch channel, string userId, List<string>? removed)
    {
        if (!channel.Members.Remove(userId) || !tenant.Users.TryGetValue(userId, out var user))
        {
            return;
        }
        user.Channels.Remove(channel);
        if (!user.IsWatched)
        {
            tenant.Users.Remove(userId);
            removed?.Add(userId);
        }
    }

    private List<StreamConnection> Snapshot()
    {
        lock (_lock)
        {
            return [.. _connections];
        }
    }

    private TenantWatches Tenant(string tenant)
    {
        if (!_tenants.TryGetValue(tenant, out var watches))
        {
            _tenants.Add(tenant, watches = new TenantWatches(tenant));
        }
        return watches;
    }

    /// <summary>This gateway as grains address it (created once the cluster client is up).</summary>
    private GatewayWatch Watch()
        => _watch ??= new GatewayWatch(_gateway, grains.CreateObjectReference<IPresenceEventsObserver>(this));

    private IChannelPresenceGrain Channel(TenantWatches tenant, string channelId)
        => grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant.Name, channelId));

    [LoggerMessage(Level = LogLevel.Information, Message = "Realtime stream {ConnectionId} dropped: {Reason}")]
    private partial void LogDropped(string connectionId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the watch of {Target}; the next round retries")]
    private partial void LogRenewalFailed(Exception error, string target);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not unregister watches; they lapse unrenewed")]
    private partial void LogUnregisterFailed(Exception error);

    private sealed class TenantWatches(string name)
    {
        public string Name { get; } = name;
        public Dictionary<string, UserWatch> Users { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, ChannelWatch> Channels { get; } = new(StringComparer.Ordinal);

        public UserWatch User(string userId)
        {
            if (!Users.TryGetValue(userId, out var user))
            {
                Users.Add(userId, user = new UserWatch());
            }
            return user;
        }

        public ChannelWatch Channel(string channelId)
        {
            if (!Channels.TryGetValue(channelId, out var channel))
            {
                Channels.Add(channelId, channel = new ChannelWatch(channelId));
            }
            return channel;
        }
    }

    /// <summary>Who on this gateway wants one user's changes: connections watching it, and watched channels it belongs to.</summary>
    private sealed class UserWatch
    {
        public HashSet<StreamConnection> Direct { get; } = [];
        public HashSet<ChannelWatch> Channels { get; } = [];

        /// <summary>Held while one of the user's changes is delivered: its changes go out one at a time.</summary>
        public Lock Delivering { get; } = new();

        /// <summary>The version and time of the last change delivered for the user (under <see cref="Delivering"/>).</summary>
        public (long Version, DateTimeOffset At) LastChange { get; set; } = (long.MinValue, DateTimeOffset.MinValue);

        public bool IsWatched => Direct.Count > 0 || Channels.Count > 0;

        /// <summary>Every connection to tell, once each.</summary>
        public List<StreamConnection> Targets()
        {
            if (Channels.Count == 0)
            {
                return [.. Direct];
            }
            if (Channels.Count == 1 && Direct.Count == 0)
            {
                return [.. Channels.First().Connections];
            }
            var all = new HashSet<StreamConnection>(Direct);
            foreach (var channel in Channels)
            {
                all.UnionWith(channel.Connections);
            }
            return [.. all];
        }
    }

    private sealed class ChannelWatch(string channelId)
    {
        public string ChannelId { get; } = channelId;
        public HashSet<StreamConnection> Connections { get; } = [];
        public HashSet<string> Members { get; } = new(StringComparer.Ordinal);
        public bool Registered { get; set; }

        /// <summary>The membership sequence <see cref="Members"/> reflects; null until the channel gave its set, or after a gap.</summary>
        public long? Sequence { get; set; }

        /// <summary>Joins and leaves that came while <see cref="Sequence"/> was unknown, to replay on top of the set.</summary>
        public List<ChannelChange>? Pending { get; set; }

        /// <summary>Held while a presence change of this channel is checked and delivered.</summary>
        public Lock Delivering { get; } = new();

        // Each member's last delivered presence change: when the channel made it, and when it arrived here. Kept for
        // members changed within ReorderWindow of the channel's newest change once there are many: calls reorder
        // within milliseconds, and a channel of 100,000 members keeps no time per member for good.
        private Dictionary<string, (DateTimeOffset At, long Arrived)>? _lastPresence;
        private DateTimeOffset _newest = DateTimeOffset.MinValue;
        private static readonly TimeSpan ReorderWindow = TimeSpan.FromSeconds(30);
        private const int KeptBeforePruning = 1024;
        private int _pruneAt = KeptBeforePruning;

        // Only a change that arrives this soon after a later one is taken for one the calls reordered. The times are
        // the channel grain's clock: after the grain moved to a silo whose clock is behind, its next change may carry
        // an earlier time than the last one delivered, and must not be dropped for it (it arrives later than that).
        private const long ReorderedWithinMs = 2_000;

        /// <summary>
        /// Whether a presence change of <paramref name="member"/> made at <paramref name="at"/> is to be delivered: not
        /// when it arrives right after a later one. Changes made at the same instant are not older. Under <see cref="Delivering"/>.
        /// </summary>
        public bool TakePresence(string member, DateTimeOffset at)
        {
            var arrived = Environment.TickCount64;
            _lastPresence ??= new(StringComparer.Ordinal);
            if (_lastPresence.TryGetValue(member, out var last) && at < last.At && arrived - last.Arrived < ReorderedWithinMs)
            {
                return false;
            }
            _lastPresence[member] = (at, arrived);
            if (at > _newest)
            {
                _newest = at;
            }
            if (_lastPresence.Count > _pruneAt)
            {
                var before = _newest - ReorderWindow;
                foreach (var (key, time) in _lastPresence)
                {
                    if (time.At < before)
                    {
                        _lastPresence.Remove(key);
                    }
                }
                // Many members changed within the window: the next pruning waits until as many again changed.
                _pruneAt = Math.Max(KeptBeforePruning, 2 * _lastPresence.Count);
            }
            return true;
        }
    }
}
