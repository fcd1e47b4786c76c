using Microsoft.Extensions.Options;
using Presence.Gateway.Auth;
using Presence.Users;

namespace Presence.Gateway.Realtime;

/// <summary>
/// Open streams as a presence source. The user is online while any stream of theirs is open on any gateway: each
/// gateway holds one source per user ("stream:{gateway}"), set with a lease on the first stream, renewed every
/// third of the lease while one is open, and set to end after the disconnect grace when the last one closes; a
/// reconnect within the grace simply renews it. If the gateway dies, the lease ends the hold: never a ghost online.
/// Calls for one user leave in order (a close never overtakes the open after it).
/// </summary>
public sealed class HeldPresence(Hosting.UserGrains users, IOptions<RealtimeOptions> options)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Tenant, string UserId), Hold> _holds = [];
    /// <summary>This gateway's source name, one per process lifetime.</summary>
    public string Source { get; } = PresenceSources.StreamPrefix + Guid.NewGuid().ToString("N");

    /// <summary>Whether this gateway holds the user's presence (a stream is open, or its close is still being recorded).</summary>
    public bool Holds(string tenant, string userId)
    {
        lock (_lock)
        {
            return _holds.ContainsKey((tenant, userId));
        }
    }

    /// <summary>Takes one connection slot of the user; false when the user has as many as allowed.</summary>
    public bool TryReserve(Caller caller)
    {
        lock (_lock)
        {
            var key = (caller.Tenant, caller.UserId);
            if (!_holds.TryGetValue(key, out var hold))
            {
                _holds.Add(key, hold = new Hold(caller));
            }
            if (hold.Connections >= options.Value.MaxConnectionsPerUser)
            {
                return false;
            }
            hold.Connections++;
            return true;
        }
    }

    /// <summary>A stream opened (its slot reserved): the user is online, last active now. Returns the user's own view.</summary>
    public Task<UserPresence> OpenAsync(Caller caller, CancellationToken cancellationToken)
    {
        var update = new PresenceUpdate(Source, PresenceStatus.Online, options.Value.Lease, caller.Profile);
        return Enqueue(HoldOf(caller), async hold =>
        {
            var presence = await User(caller).Update(update, cancellationToken);
            hold.Live = true;
            return presence;
        });
    }

    /// <summary>A stream closed: the last one of the user starts the grace period.</summary>
    public Task CloseAsync(Caller caller)
    {
        Hold? last = null;
        lock (_lock)
        {
            var key = (caller.Tenant, caller.UserId);
            if (_holds.TryGetValue(key, out var hold) && --hold.Connections == 0)
            {
                last = hold;
            }
        }
        if (last is null)
        {
            return Task.CompletedTask;
        }
        var grace = options.Value.DisconnectGrace;
        var update = grace > TimeSpan.Zero
            ? new PresenceUpdate(Source, PresenceStatus.Online, grace, null, Renewal: true)
            : new PresenceUpdate(Source, null, null, null);
        return Enqueue(last, async hold =>
        {
            try
            {
                // A stream that never got as far as holding the user (it failed to open) has nothing to end.
                if (hold.Live)
                {
                    await User(caller).Update(update);
                }
            }
            finally
            {
                lock (_lock)
                {
                    if (hold.Connections == 0)
                    {
                        hold.Live = false;
                        _holds.Remove((caller.Tenant, caller.UserId));
                    }
                }
            }
            return true;
        });
    }

    /// <summary>Renews the lease of every user with an open stream here.</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        List<Hold> held;
        lock (_lock)
        {
            held = [.. _holds.Values.Where(h => h.Connections > 0)];
        }
        var update = new PresenceUpdate(Source, PresenceStatus.Online, options.Value.Lease, null, Renewal: true);
        await Parallel.ForEachAsync(held, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (hold, ct) =>
        {
            try
            {
                // Only while still open when its turn comes: a renewal after the last close would undo the grace.
                await Enqueue(hold, async h => h.Connections > 0 ? await User(h.Caller).Update(update, ct) : null);
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                // The next renewal tries again, well within the lease.
            }
        });
    }

    private Hold HoldOf(Caller caller)
    {
        lock (_lock)
        {
            var key = (caller.Tenant, caller.UserId);
            if (!_holds.TryGetValue(key, out var hold))
            {
                _holds.Add(key, hold = new Hold(caller));
            }
            return hold;
        }
    }

    private Task<T> Enqueue<T>(Hold hold, Func<Hold, Task<T>> call)
    {
        lock (_lock)
        {
            var next = Chain(hold.Tail, hold, call);
            hold.Tail = next;
            return next;
        }
    }

    private static async Task<T> Chain<T>(Task previous, Hold hold, Func<Hold, Task<T>> call)
    {
        try
        {
            await previous;
        }
        catch (Exception)
        {
            // The earlier call's caller saw its failure; this one goes ahead regardless.
        }
        return await call(hold);
    }

    private IUserPresenceGrain User(Caller caller) => users.For(caller.Tenant, caller.UserId);

    private sealed class Hold(Caller caller)
    {
        public Caller Caller { get; } = caller;
        public int Connections { get; set; }

        /// <summary>Whether a stream's open reached the user grain (so the last close must start the grace period).</summary>
        public bool Live { get; set; }

        public Task Tail { get; set; } = Task.CompletedTask;
    }
}
