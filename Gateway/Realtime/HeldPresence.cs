using Microsoft.Extensions.Options;
using Presence.Gateway.Auth;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Realtime;

/// <summary>
/// Open streams as a presence source. The user is online while any stream of theirs is open on any gateway: each
/// gateway holds one source per user ("stream:{gateway}"), set on the first stream and set to end after the
/// disconnect grace when the last one closes; a reconnect within the grace simply renews it.
/// <para>
/// Never a ghost online, without a call per user while streams stay open: the gateway renews its hold with each
/// index shard its users live in, one call per shard every third of <see cref="RealtimeOptions.Lease"/>. If the
/// gateway dies, each shard releases its users when the lease ends. A user's own source carries a much longer
/// backstop (<see cref="BackstopLeases"/> leases), renewed per user only every <see cref="BackstopRenewalRounds"/>
/// rounds: it ends a hold no shard could release (a shard and the gateway lost together). So between those calls
/// the user's grain is not activated at all.
/// </para>
/// Calls for one user leave in order (a close never overtakes the open after it).
/// </summary>
public sealed class HeldPresence(
    IGrainFactory grains,
    IPresenceGrains presence,
    IOptions<RealtimeOptions> options,
    TimeProvider time)
{
    /// <summary>A user's own hold lasts this many leases (15 minutes by default).</summary>
    public const int BackstopLeases = 15;

    /// <summary>Renewal rounds (each a third of a lease) between renewals of each user's own hold.</summary>
    public const int BackstopRenewalRounds = 15;

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Tenant, string UserId), Hold> _holds = [];
    private readonly Dictionary<IndexShard, ShardHold> _shards = [];
    private long _round;

    /// <summary>This gateway's source name, one per process lifetime.</summary>
    public string Source { get; } = PresenceSources.StreamPrefix + Guid.NewGuid().ToString("N");

    private TimeSpan Lease => options.Value.Lease;

    private TimeSpan Backstop => Lease * BackstopLeases;

    /// <summary>Whether this gateway holds the user's presence (a stream is open, or its close is still being recorded).</summary>
    public bool Holds(string tenant, string userId)
    {
        lock (_lock)
        {
            return _holds.ContainsKey((tenant, userId));
        }
    }

    /// <summary>The user's open streams on this gateway.</summary>
    public int Connections(string tenant, string userId)
    {
        lock (_lock)
        {
            return _holds.TryGetValue((tenant, userId), out var hold) ? hold.Connections : 0;
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

    /// <summary>
    /// A stream opened (its slot reserved): the user is online, last active now, with the token's profile unless
    /// <paramref name="keepProfile"/> (Stream's connections set theirs beforehand). Returns the user's own view.
    /// </summary>
    public Task<UserPresence> OpenAsync(Caller caller, CancellationToken cancellationToken, bool keepProfile = false)
    {
        var update = new PresenceUpdate(Source, PresenceStatus.Online, Backstop, keepProfile ? null : caller.Profile);
        return Enqueue(HoldOf(caller), async hold =>
        {
            // The shard knows this gateway's hold before the user does: a gateway dying right after is released too.
            await ShardKnows(ShardOf(caller), cancellationToken);
            var presence = await User(caller).Update(update);
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

    /// <summary>
    /// One round (every third of a lease): renews the hold with every shard that has users held here, sets the holds
    /// again of a shard that had let go of them (it lost them in a crash, or they lapsed while this gateway was cut
    /// off), and renews the own hold of a fifteenth of the users (each user every <see cref="BackstopRenewalRounds"/>
    /// rounds: spread, so no round carries them all).
    /// </summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        var round = Interlocked.Increment(ref _round);
        List<Hold> held;
        lock (_lock)
        {
            held = [.. _holds.Values.Where(h => h.Connections > 0)];
        }
        var shards = held.GroupBy(h => ShardOf(h.Caller)).ToList();
        lock (_lock)
        {
            var current = shards.Select(s => s.Key).ToHashSet();
            foreach (var gone in _shards.Keys.Where(k => !current.Contains(k)).ToList())
            {
                _shards.Remove(gone);
            }
        }
        var again = new List<Hold>();
        await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (shard, ct) =>
        {
            try
            {
                if (!await RenewShard(shard.Key))
                {
                    lock (again)
                    {
                        again.AddRange(shard);
                    }
                }
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                // The next round tries again, well within the lease.
            }
        });
        var slice = round % BackstopRenewalRounds;
        var backstop = held.Where(h => (uint)h.Caller.UserId.GetHashCode() % BackstopRenewalRounds == slice);
        await RenewUsers([.. again.Union(backstop)], cancellationToken);
    }

    private async Task RenewUsers(List<Hold> held, CancellationToken cancellationToken)
    {
        var update = new PresenceUpdate(Source, PresenceStatus.Online, Backstop, null, Renewal: true);
        await Parallel.ForEachAsync(held, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (hold, ct) =>
        {
            try
            {
                // Only while open and held when its turn comes: a renewal after the last close would undo the grace,
                // and one before the open reached the user (or of a stream that never opened) would set a hold no
                // close ends.
                await Enqueue(hold, async h => h.Live && h.Connections > 0 ? await User(h.Caller).Update(update) : null);
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                // The next round tries again, well within the backstop.
            }
        });
    }

    /// <summary>Renews the hold with a shard unless this was done within the last third of a lease (or is under way).</summary>
    private async Task ShardKnows(IndexShard shard, CancellationToken cancellationToken)
    {
        Task<bool> renewing;
        lock (_lock)
        {
            if (!_shards.TryGetValue(shard, out var known))
            {
                _shards.Add(shard, known = new ShardHold());
            }
            if (known.Renewing is { } pending)
            {
                renewing = pending;
            }
            else if (time.GetUtcNow() - known.RenewedAt < Lease / 3)
            {
                return;
            }
            else
            {
                // A shard this gateway never renewed before does not know it: only one it did can have let go.
                var renewedBefore = known.RenewedAt != DateTimeOffset.MinValue;
                // Started off the lock: its own bookkeeping takes the lock, after this assignment.
                renewing = known.Renewing = Task.Run(async () =>
                {
                    var alive = await RenewShard(shard);
                    if (!alive && renewedBefore)
                    {
                        // Not awaited: the users to set again may include the one whose open is waiting for this.
                        _ = SetAgain(shard);
                    }
                    return alive;
                });
            }
        }
        await renewing.WaitAsync(cancellationToken);
    }

    /// <summary>Sets the holds again of every user held here in a shard that had let go of them.</summary>
    private Task SetAgain(IndexShard shard)
    {
        List<Hold> held;
        lock (_lock)
        {
            held = [.. _holds.Values.Where(h => h.Live && h.Connections > 0 && ShardOf(h.Caller) == shard)];
        }
        return RenewUsers(held, CancellationToken.None);
    }

    private async Task<bool> RenewShard(IndexShard shard)
    {
        var at = time.GetUtcNow();
        try
        {
            var alive = await presence.RenewHoldAsync(shard, Source, Lease);
            lock (_lock)
            {
                if (_shards.TryGetValue(shard, out var known))
                {
                    known.RenewedAt = at;
                }
            }
            return alive;
        }
        finally
        {
            lock (_lock)
            {
                if (_shards.TryGetValue(shard, out var known))
                {
                    known.Renewing = null;
                }
            }
        }
    }

    private IndexShard ShardOf(Caller caller) => presence.ShardOf(caller.Tenant, caller.UserId);

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
            hold.Pending++;
            var next = Chain(hold.Tail, hold, call);
            hold.Tail = next;
            return next;
        }
    }

    private async Task<T> Chain<T>(Task previous, Hold hold, Func<Hold, Task<T>> call)
    {
        try
        {
            await previous;
        }
        catch (Exception)
        {
            // The earlier call's caller saw its failure; this one goes ahead regardless.
        }
        try
        {
            return await call(hold);
        }
        finally
        {
            lock (_lock)
            {
                // The last call queued is done: the hold lets go of it (and of its result), as it may stay for hours.
                if (--hold.Pending == 0)
                {
                    hold.Tail = Task.CompletedTask;
                }
            }
        }
    }

    // Not the gateway's shared cache of references (IPresenceGrains): a held user is called once a backstop period, and
    // its cached reference would stay in memory for nothing meanwhile.
    private IUserPresenceGrain User(Caller caller) => grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(caller.Tenant, caller.UserId));

    private sealed class Hold(Caller caller)
    {
        public Caller Caller { get; } = caller;
        public int Connections { get; set; }

        /// <summary>Whether a stream's open reached the user grain (so the last close must start the grace period).</summary>
        public bool Live { get; set; }

        /// <summary>The last call queued for the user, or a completed task once every call is done.</summary>
        public Task Tail { get; set; } = Task.CompletedTask;

        public int Pending { get; set; }
    }

    /// <summary>When this gateway last renewed its hold with one index shard (presence clock), and a renewal under way.</summary>
    private sealed class ShardHold
    {
        public DateTimeOffset RenewedAt { get; set; } = DateTimeOffset.MinValue;

        public Task<bool>? Renewing { get; set; }
    }
}
