using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Gateway.Realtime;

namespace Presence.Gateway.Stream;

/// <summary>
/// The open <c>/connect</c> sockets of this gateway by <c>connection_id</c>: REST calls that watch (queryUsers with
/// <c>presence</c>, channel.watch) name the socket whose watches they extend. A socket that watches a channel makes its
/// user one of the channel's watchers: present in the channel, which every dialect sees (Stream's watchers are the
/// users present in a channel, whoever made them so). That presence is held
/// for <see cref="WatcherHold"/> leases and renewed every lease while watched (a gateway that dies leaves no watcher
/// behind for longer than that), and ends when the user's last socket here stops watching.
/// </summary>
public sealed partial class StreamChatConnections(IPresenceGrains presence, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<StreamChatConnections> logger)
{
    /// <summary>A watcher's channel presence lasts this many leases (renewed every lease).</summary>
    public const int WatcherHold = 3;

    // How many sockets here make a user watch a channel, and which channels each socket watches (taken whole when it closes).
    private readonly Dictionary<(string Tenant, string UserId, string Cid), int> _watching = [];
    private readonly Dictionary<StreamConnection, HashSet<string>> _watchedBy = [];
    private readonly Lock _lock = new();
    private readonly Dictionary<string, StreamConnection> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Tenant, string UserId), List<StreamConnection>> _byUser = [];

    public void Add(StreamConnection connection)
    {
        lock (_lock)
        {
            _byId[connection.Id] = connection;
            var user = (connection.Caller.Tenant, connection.Caller.UserId);
            if (!_byUser.TryGetValue(user, out var own))
            {
                _byUser.Add(user, own = new List<StreamConnection>(1));
            }
            own.Add(connection);
        }
    }

    public void Remove(StreamConnection connection)
    {
        if (connection.Shape != EventShape.StreamChat)
        {
            return;
        }
        HashSet<string>? watched;
        lock (_lock)
        {
            _watchedBy.Remove(connection, out watched);
        }
        foreach (var cid in watched ?? [])
        {
            _ = ReleaseAsync(connection, cid);
        }
        lock (_lock)
        {
            if (_byId.TryGetValue(connection.Id, out var known) && ReferenceEquals(known, connection))
            {
                _byId.Remove(connection.Id);
            }
            var user = (connection.Caller.Tenant, connection.Caller.UserId);
            if (_byUser.TryGetValue(user, out var own) && own.Remove(connection) && own.Count == 0)
            {
                _byUser.Remove(user);
            }
        }
    }

    /// <summary>The caller's own open connection of that id, if it is on this gateway.</summary>
    public StreamConnection? Find(string tenant, string userId, string connectionId)
    {
        lock (_lock)
        {
            return _byId.TryGetValue(connectionId, out var connection) && connection.Caller.Tenant == tenant && connection.Caller.UserId == userId
                ? connection
                : null;
        }
    }

    /// <summary>The user's own open connections on this gateway (to tell them of a change the user made to itself).</summary>
    public List<StreamConnection> Of(string tenant, string userId)
    {
        lock (_lock)
        {
            return _byUser.TryGetValue((tenant, userId), out var own) ? [.. own] : [];
        }
    }

    /// <summary>
    /// The connection now watches the channel: its user is a watcher (present in the channel) if it was not already.
    /// Nothing if the connection closed meanwhile (its close released what it watched).
    /// </summary>
    public async Task WatchingAsync(StreamConnection connection, string cid, CancellationToken cancellationToken)
    {
        var key = (connection.Caller.Tenant, connection.Caller.UserId, cid);
        lock (_lock)
        {
            if (!_byId.TryGetValue(connection.Id, out var open) || !ReferenceEquals(open, connection))
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
        lock (_lock)
        {
            if (!_watchedBy.TryGetValue(connection, out var watched) || !watched.Remove(cid))
            {
                return Task.CompletedTask;
            }
        }
        return ReleaseAsync(connection, cid);
    }

    private async Task ReleaseAsync(StreamConnection connection, string cid)
    {
        var key = (connection.Caller.Tenant, connection.Caller.UserId, cid);
        lock (_lock)
        {
            if (!_watching.TryGetValue(key, out var count))
            {
                return;
            }
            if (count > 1)
            {
                _watching[key] = count - 1;
                return;
            }
            _watching.Remove(key);
        }
        try
        {
            await presence.User(key.Tenant, key.UserId).SetChannelPresence(cid, new ChannelPresenceUpdate(key.UserId, null, null, null));
        }
        catch (Exception error)
        {
            // Its hold ends by itself within WatcherHold leases.
            LogReleaseFailed(error, cid);
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
                LogReleaseFailed(error, key.Item3);
            }
        });
    }

    private Task HoldAsync((string Tenant, string UserId, string Cid) key, CancellationToken cancellationToken)
        => presence.User(key.Tenant, key.UserId).SetChannelPresence(key.Cid,
            new ChannelPresenceUpdate(key.UserId, PresenceStatus.Online, time.GetUtcNow() + options.Value.Lease * WatcherHold, null), cancellationToken);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not renew or end the watching of {Cid}; it lapses by itself")]
    private partial void LogReleaseFailed(Exception error, string cid);
}
