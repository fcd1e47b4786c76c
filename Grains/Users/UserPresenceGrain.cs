using Microsoft.Extensions.Options;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Grains.Index;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Users;

/// <summary>
/// A user's presence. Reads are computed at the time of the read from the stored sources, so an expired source
/// never counts even if no timer has run. This grain keeps no timer: the user's index shard holds the timeline
/// of its effective status and applies it on time, so an idle user needs no activation at all.
/// Random placement spreads users evenly over the silos, whichever gateway or silo first calls them.
/// </summary>
[GrainType("presence-user"), RandomPlacement]
public sealed partial class UserPresenceGrain(
    [PersistentState("user", PresenceStorage.Name)] IPersistentState<UserPresenceState> state,
    IndexPublisher index,
    TimeProvider time,
    IOptions<PresenceExpiryOptions> expiry,
    IOptions<PresenceStorageOptions> storage,
    PresenceMetrics metrics,
    ILogger<UserPresenceGrain> logger) : Grain, IUserPresenceGrain
{
    // Expiry of each source as last written: a refresh that only moves an expiry by less than the coalescing
    // window is kept in memory and written later (on a real change, or at deactivation).
    private readonly Dictionary<string, DateTimeOffset> _persistedExpiry = [];
    private bool _dirty;
    // An index update that may not have arrived (its call failed): the next change publishes even if it looks
    // like nothing the index cares about changed.
    private bool _publishPending;

    // The key, split once: every update and read names the user, and splitting allocates.
    private (string Tenant, string Id)? _key;

    private string Tenant => (_key ??= PresenceKeys.Split(this.GetPrimaryKeyString())).Tenant;
    private string UserId => (_key ??= PresenceKeys.Split(this.GetPrimaryKeyString())).Id;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        RememberPersisted();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (!_dirty)
        {
            return;
        }
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch (Exception error)
        {
            // Only coalesced refreshes were unwritten: the stored expiry is at most the coalescing window early.
            LogDeactivationWriteFailed(UserId, error.Message);
        }
    }

    public Task<UserPresence> Get(CancellationToken cancellationToken) => Task.FromResult(View(time.GetUtcNow()));

    public Task<UserPresence> Update(PresenceUpdate update, CancellationToken cancellationToken)
        => Change(update, extraChange: null, cancellationToken);

    public Task<UserPresence> SetDevice(DeviceUpdate update, CancellationToken cancellationToken)
    {
        var source = PresenceSources.DevicePrefix + update.Resource;
        return Change(new PresenceUpdate(source, update.Status, update.Ttl, update.Profile), current =>
        {
            var known = current.Devices.Remove(source);
            current.Devices.Add(source);
            if (current.Devices.Count > UserPresenceState.MaxDevices)
            {
                // The oldest device is forgotten entirely, its source too: a user's row stays bounded.
                current.Sources.Remove(current.Devices[0]);
                current.Devices.RemoveAt(0);
            }
            var extChanged = current.Ext != update.Ext;
            current.Ext = update.Ext;
            return !known || extChanged;
        }, cancellationToken);
    }

    public Task<PresenceDetail> GetDetail(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = state.State;
        var sources = new List<SourceStatus>();
        foreach (var (name, source) in current.Sources)
        {
            if (source.ExpiresAt > now)
            {
                sources.Add(new SourceStatus(name, source.Status));
            }
        }
        foreach (var device in current.Devices)
        {
            if (!current.Sources.TryGetValue(device, out var source) || source.ExpiresAt <= now)
            {
                sources.Add(new SourceStatus(device, null));
            }
        }
        var view = View(now);
        return Task.FromResult(new PresenceDetail(UserId, current.Profile, view.Status, view.LastSeenAt, current.Ext, [.. sources]));
    }

    /// <summary>
    /// Applies a change to one source (and, through <paramref name="extraChange"/>, to more of the state; it says
    /// whether that needs a write), persists it unless it is only a refresh within the coalescing window, and tells
    /// the user's index shard.
    /// </summary>
    private async Task<UserPresence> Change(PresenceUpdate update, Func<UserPresenceState, bool>? extraChange, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = state.State;
        var before = PresenceTimeline.EffectiveAt(current.Sources, now);
        var mustWrite = false;

        // Expired sources are invisible already; dropping them only keeps the stored row small.
        foreach (var (name, source) in current.Sources)
        {
            if (source.ExpiresAt <= now)
            {
                current.Sources.Remove(name);
            }
        }

        if (update.Status is null)
        {
            mustWrite |= current.Sources.Remove(update.Source);
        }
        else
        {
            var ttl = update.Ttl ?? expiry.Value.Default;
            var next = new PresenceSource(update.Status, now, now + ttl);
            if (!current.Sources.TryGetValue(update.Source, out var previous) || previous.Status != update.Status)
            {
                mustWrite = true;
            }
            else if (!_persistedExpiry.TryGetValue(update.Source, out var written)
                || next.ExpiresAt - written >= CoalesceWindow(ttl))
            {
                mustWrite = true;
            }
            current.Sources[update.Source] = next;
        }

        if (update.Profile is { } profile && profile != current.Profile)
        {
            current.Profile = profile;
            mustWrite = true;
        }
        if (extraChange is not null)
        {
            mustWrite |= extraChange(current);
        }
        current.LastSeenAt = now;
        current.Version = Math.Max(current.Version + 1, now.UtcTicks);
        metrics.Updated();

        if (mustWrite)
        {
            try
            {
                await state.WriteOrDeactivate(this, cancellationToken);
            }
            catch
            {
                _dirty = false; // the deactivation must not write the change that just failed
                throw;
            }
            RememberPersisted();
        }
        else
        {
            _dirty = true;
            LogRefreshCoalesced(UserId);
        }

        var after = PresenceTimeline.EffectiveAt(current.Sources, now);
        if (before is not null || after is not null || _publishPending)
        {
            var steps = PresenceTimeline.StepsAfter(current.Sources, now);
            _publishPending = true;
            await index.Publish(Tenant, new IndexUpdate(UserId, current.Version, current.Profile, current.LastSeenAt, after, steps));
            _publishPending = false;
        }
        return View(now);
    }

    private UserPresence View(DateTimeOffset now) => new(
        UserId,
        state.State.Profile,
        PresenceTimeline.EffectiveAt(state.State.Sources, now) ?? PresenceStatus.Offline,
        state.State.LastSeenAt);

    private TimeSpan CoalesceWindow(TimeSpan ttl)
    {
        var quarter = ttl / 4;
        var configured = storage.Value.RefreshCoalesce;
        return configured < quarter ? configured : quarter;
    }

    private void RememberPersisted()
    {
        _persistedExpiry.Clear();
        foreach (var (name, source) in state.State.Sources)
        {
            _persistedExpiry[name] = source.ExpiresAt;
        }
        _dirty = false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the coalesced refresh of {UserId} at deactivation ({Reason})")]
    private partial void LogDeactivationWriteFailed(string userId, string reason);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Refresh of {UserId} coalesced: expiry kept in memory until the next write")]
    private partial void LogRefreshCoalesced(string userId);
}
