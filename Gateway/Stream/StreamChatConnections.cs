using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Gateway.Realtime;

namespace Presence.Gateway.Stream;

/// <summary>
/// The open <c>/connect</c> sockets of this gateway by <c>connection_id</c>: REST calls that watch (queryUsers with
/// <c>presence</c>, channel.watch) name the socket whose watches they extend. A socket that watches a channel makes its
/// user one of the channel's watchers: present in the channel, which every dialect sees (Stream's watchers are the
/// users present in a channel, whoever made them so). That presence is held for <see cref="WatcherHold"/> leases and
/// renewed every lease while watched (a gateway that dies leaves no watcher behind for longer than that), and ends when
/// the user's last socket here stops watching.
/// </summary>
public sealed partial class StreamChatConnections(IPresenceGrains presence, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<StreamChatConnections> logger)
{
    /// <summary>A watcher's channel presence lasts this many leases (renewed every lease).</summary>
    public const int WatcherHold = 3;

    private readonly Lock _lock = new();
    private readonly Dictionary<long, StreamConnection> _byNumber = [];
    // A user's sockets here: one socket itself, or an array of several (most users have one: no list per socket).
    private readonly Dictionary<(string Tenant, string UserId), object> _byUser = [];
    // How many sockets here make a user watch a channel, and which channels each socket watches (taken whole when it closes).
    private readonly Dictionary<(string Tenant, string UserId, string Cid), int> _watching = [];
    private readonly Dictionary<StreamConnection, HashSet<string>> _watchedBy = [];

    public void Add(StreamConnection connection)
    {
        lock (_lock)
        {
            _byNumber[connection.Number] = connection;
            var user = (connection.Caller.Tenant, connection.Caller.UserId);
            _byUser[user] = _byUser.TryGetValue(user, out var own) ? (StreamConnection[])[.. Sockets(own), connection] : connection;
        }
    }

    /// <summary>The socket closed: it is forgotten, and what it watched is released, in one step (no watch slips in between).</summary>
    public void Remove(StreamConnection connection)
    {
        if (connection.Shape != EventShape.StreamChat)
        {
            return;
        }
        var released = new List<(string, string, string)>();
        lock (_lock)
        {
            if (!_byNumber.Remove(connection.Number))
            {
                return;
            }
            var user = (connection.Caller.Tenant, connection.Caller.UserId);
            if (_byUser.TryGetValue(user, out var own))
            {
                StreamConnection[] rest = [.. Sockets(own).Where(c => !ReferenceEquals(c, connection))];
                if (rest.Length == 0)
                {
                    _byUser.Remove(user);
                }
                else
                {
                    _byUser[user] = rest.Length == 1 ? rest[0] : rest;
                }
            }
            if (_watchedBy.Remove(connection, out var watched))
            {
                foreach (var cid in watched)
                {
                    if (Uncount((user.Tenant, user.UserId, cid)))
                    {
                        released.Add((user.Tenant, user.UserId, cid));
                    }
                }
            }
        }
        foreach (var key in released)
        {
            _ = ReleaseAsync(key);
        }
    }

    /// <summary>The caller's own open connection of that id, if it is on this gateway.</summary>
    public StreamConnection? Find(string tenant, string userId, string connectionId)
    {
        var dash = connectionId.LastIndexOf('-');
        if (dash < 0 || !long.TryParse(connectionId.AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }
        lock (_lock)
        {
            return _byNumber.TryGetValue(number, out var connection) && connection.Caller.Tenant == tenant && connection.Caller.UserId == userId
                && connection.Id == connectionId // the gateway's own prefix too: another gateway's socket of that number is not this one
                ? connection
                : null;
        }
    }

    /// <summary>The user's own open connections on this gateway (to tell them of a change the user made to itself).</summary>
    public List<StreamConnection> Of(string tenant, string userId)
    {
        lock (_lock)
        {
            return _byUser.TryGetValue((tenant, userId), out var own) ? [.. Sockets(own)] : [];
        }
    }

    private static StreamConnection[] Sockets(object own) => own as StreamConnection[] ?? [(StreamConnection)own];

    /// <summary>
    /// The connection now watches the channel (the hub has it): its user is a watcher. Nothing if the connection
    /// closed or stopped watching meanwhile; said again, it changes nothing.
    /// </summary>
    public async Task WatchingAsync(StreamConnection connection, string cid, CancellationToken cancellationToken)
    {
        var key = (connection.Caller.Tenant, connection.Caller.UserId, cid);
        lock (_lock)
        {
            if (!_byNumber.TryGetValue(connection.Number, out var open) || !ReferenceEquals(open, connection)
                || !connection.Channels.Contains(cid, StringComparer.Ordinal))
            {
                return;
            }
            if (!_watchedBy.TryGetValue(connection, out var watched))
            {
                _watchedBy.Add(connection, watched = new HashSet<string>(StringComparer.Ordinal));
            }
            if (!watched.Add(cid))
            {
                return;
            }
            _watching[key] = _watching.GetValueOrDefault(key) + 1;
        }
        await HoldAsync(key, cancellationToken);
    }

    /// <summary>The connection stopped watching the channel: the user's last socket here that watched it ends its watching.</summary>
    public Task StopWatchingAsync(StreamConnection connection, string cid)
    {
        var key = (connection.Caller.Tenant, connection.Caller.UserId, cid);
        lock (_lock)
        {
            if (!_watchedBy.TryGetValue(connection, out var watched) || !watched.Remove(cid) || !Uncount(key))
            {
                return Task.CompletedTask;
            }
        }
        return ReleaseAsync(key);
    }

    /// <summary>One socket fewer watches; true when it was the last (under the lock).</summary>
    private bool Uncount((string, string, string) key)
    {
        if (!_watching.TryGetValue(key, out var count))
        {
            return false;
        }
        if (count > 1)
        {
            _watching[key] = count - 1;
            return false;
        }
        _watching.Remove(key);
        return true;
    }

    private bool Counted((string, string, string) key)
    {
        lock (_lock)
        {
            return _watching.ContainsKey(key);
        }
    }

    /// <summary>Renews every watcher held here (each lease, from the realtime service's clock).</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        List<(string, string, string)> held;
        lock (_lock)
        {
            held = [.. _watching.Keys];
        }
        await Parallel.ForEachAsync(held, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (key, ct) =>
        {
            try
            {
                await HoldAsync(key, ct);
            }
            catch (Exception error) when (!ct.IsCancellationRequested)
            {
                LogHoldFailed(error, key.Item3);
            }
        });
    }

    /// <summary>
    /// Sets the user present in the channel for <see cref="WatcherHold"/> leases. Grain calls are not ordered against
    /// one another: if the watching ended while this one was on its way, its end is sent again after it.
    /// </summary>
    private async Task HoldAsync((string Tenant, string UserId, string Cid) key, CancellationToken cancellationToken)
    {
        await presence.User(key.Tenant, key.UserId).SetChannelPresence(key.Cid,
            new ChannelPresenceUpdate(key.UserId, PresenceStatus.Online, time.GetUtcNow() + options.Value.Lease * WatcherHold, null), cancellationToken);
        if (!Counted(key))
        {
            await ReleaseAsync(key);
        }
    }

    /// <summary>Ends the user's watching of the channel; if a socket here watches it again meanwhile, its hold is sent again after.</summary>
    private async Task ReleaseAsync((string Tenant, string UserId, string Cid) key)
    {
        try
        {
            await presence.User(key.Tenant, key.UserId).SetChannelPresence(key.Cid, new ChannelPresenceUpdate(key.UserId, null, null, null));
            if (Counted(key))
            {
                await HoldAsync(key, CancellationToken.None);
            }
        }
        catch (Exception error)
        {
            // Its hold ends by itself within WatcherHold leases.
            LogHoldFailed(error, key.Cid);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not renew or end the watching of {Cid}; the next renewal, or its lapse, sets it right")]
    private partial void LogHoldFailed(Exception error, string cid);
}
