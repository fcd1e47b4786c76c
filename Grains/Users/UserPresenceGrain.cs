using Microsoft.Extensions.Options;
using Presence.Grains.Hosting;
using Presence.Grains.Storage;
using Presence.Grains.Index;
using Presence.Grains.Timers;
using Presence.Channels;
using Presence.Index;
using Presence.Users;

namespace Presence.Grains.Users;

/// <summary>
/// A user's presence. Reads are computed at the time of the read from the stored sources, so an expired source
/// never counts even if no timer has run. This grain keeps no timer: the user's index shard holds the timeline
/// of its effective status and applies it on time, so an idle user needs no activation at all.
/// An invisible user is offline to everyone but itself: the index, its channels and every read by others see it
/// offline, last seen when it turned invisible.
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
    ILogger<UserPresenceGrain> logger) : Grain, IUserPresenceGrain, ILetGo
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
        if (_publishPending)
        {
            // The last index update failed, and the next call may come to an activation that does not know it.
            try
            {
                await Publish(time.GetUtcNow());
            }
            catch (Exception error)
            {
                LogDeactivationPublishFailed(error, UserId);
            }
        }
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
            LogDeactivationWriteFailed(error, UserId);
        }
    }

    public Task<UserPresence> Get(bool own, CancellationToken cancellationToken) => Task.FromResult(View(time.GetUtcNow(), own));

    public Task<UserPresence> Update(PresenceUpdate update)
    {
        var change = Change(update, extraChange: null, CancellationToken.None);
        // No wrapper awaiting the change on every update: deactivating "on idle" waits for this call to end anyway.
        LetGoAfterHold(update.Source);
        return change;
    }

    public async Task ReleaseHold(string source, DateTimeOffset setBefore)
    {
        // Set (or renewed) again since: the gateway is back, and its hold stands.
        if (state.State.Sources.TryGetValue(source, out var held) && held.UpdatedAt < setBefore)
        {
            await Change(new PresenceUpdate(source, null, null, null), extraChange: null, CancellationToken.None, activity: false);
        }
        LetGoAfterHold(source);
    }

    /// <summary>
    /// An open stream's user needs no activation between its gateway's calls: the index shard holds its timeline and
    /// watches the gateway's liveness (see <see cref="IPresenceIndexGrain.RenewHold"/>). Without this, every user
    /// with a stream open would keep an activation (about 3 KB) for as long as the stream lasts.
    /// </summary>
    private void LetGoAfterHold(string source)
    {
        if (PresenceSources.IsStreamHold(source))
        {
            (_letGo ??= new LetGoLater(this, LetGoDelay)).Ask();
        }
    }

    // Long enough for a burst of one user's stream opens to be served by one activation.
    private static readonly TimeSpan LetGoDelay = TimeSpan.FromSeconds(1);
    private LetGoLater? _letGo;

    Task ILetGo.LetGo()
    {
        this.DeactivateOnIdle();
        return Task.CompletedTask;
    }

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

    public async Task<UserPresence> SetInvisible(bool invisible, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Also when unchanged but an earlier publication may have failed: a retry must reach the index.
        if (state.State.Invisible != invisible || _publishPending)
        {
            var before = PublicStatus(now);
            if (state.State.Invisible != invisible)
            {
                ToggleInvisible(invisible);
            }
            await Commit(now, before, mustWrite: true, cancellationToken);
        }
        // Also when nothing changed: a retry after a failed call reaches the channels the first attempt missed.
        await HideInChannels(invisible);
        return View(now, own: true);
    }

    public async Task<UserPresence> SetProfile(UserProfile profile, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Also when unchanged but an earlier publication may have failed: a retry must reach the index.
        if (profile != state.State.Profile || _publishPending)
        {
            var before = PublicStatus(now);
            state.State.Profile = profile;
            await Commit(now, before, mustWrite: true, cancellationToken);
        }
        return View(now, own: true);
    }

    public async Task<UserPresence> SetManualStatus(ManualStatus status, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = state.State;
        var before = PublicStatus(now);
        if (!status.TextOnly)
        {
            if (current.Invisible != status.Invisible)
            {
                ToggleInvisible(status.Invisible);
            }
            current.Manual = status.Status;
        }
        current.StatusText = status.Text switch
        {
            null => current.StatusText,
            "" => null,
            var text => text,
        };
        if (status.Profile is { } profile)
        {
            current.Profile = profile;
        }
        await Commit(now, before, mustWrite: true, cancellationToken);
        // Every time, not only on a change: a retry after a failed call reaches the channels the first attempt missed.
        await HideInChannels(current.Invisible);
        return View(now, own: true);
    }

    public async Task<ChannelMember> SetChannelPresence(string channelId, ChannelPresenceUpdate update, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var channels = state.State.Channels;
        var known = channels.Count;
        foreach (var (name, ends) in channels)
        {
            if (ends <= now)
            {
                channels.Remove(name);
            }
        }
        var changed = known != channels.Count;
        var endsAt = update.ExpiresAt ?? now + expiry.Value.Default;
        if (update.Status is null || endsAt <= now)
        {
            changed |= channels.Remove(channelId);
        }
        else
        {
            changed |= channels.TryAdd(channelId, endsAt);
            channels[channelId] = endsAt < now + expiry.Value.ChannelMax ? endsAt : now + expiry.Value.ChannelMax;
            if (channels.Count > UserPresenceState.MaxChannels)
            {
                // Never the channel just set: that one must be hidden while the user is invisible.
                channels.Remove(channels.Where(c => c.Key != channelId).MinBy(c => c.Value).Key);
            }
        }
        if (changed)
        {
            // Only the set of channels is worth a write: a moved end just keeps an entry a little longer.
            await state.WriteOrDeactivate(this, cancellationToken);
            RememberPersisted();
        }
        var channel = GrainFactory.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(Tenant, channelId));
        return await channel.SetPresence(update with { Hidden = state.State.Invisible }, cancellationToken);
    }

    public Task<PresenceDetail> GetDetail(bool own, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = state.State;
        var hidden = current.Invisible && !own;
        var sources = new List<SourceStatus>();
        foreach (var (name, source) in current.Sources)
        {
            if (source.ExpiresAt > now && !hidden)
            {
                sources.Add(new SourceStatus(name, source.Status));
            }
        }
        // Others see only the devices there were when the user turned invisible: a new one would give it away.
        foreach (var device in hidden ? current.HiddenDevices : current.Devices)
        {
            if (hidden || !current.Sources.TryGetValue(device, out var source) || source.ExpiresAt <= now)
            {
                sources.Add(new SourceStatus(device, null));
            }
        }
        var view = View(now, own);
        return Task.FromResult(new PresenceDetail(UserId, view.Profile, view.Status, view.LastSeenAt, hidden ? current.HiddenExt : current.Ext, [.. sources], view.StatusText));
    }

    /// <summary>
    /// Applies a change to one source (and, through <paramref name="extraChange"/>, to more of the state; it says
    /// whether that needs a write), persists it unless it is only a refresh within the coalescing window, and tells
    /// the user's index shard.
    /// </summary>
    private async Task<UserPresence> Change(PresenceUpdate update, Func<UserPresenceState, bool>? extraChange, CancellationToken cancellationToken, bool activity = true)
    {
        var now = time.GetUtcNow();
        var current = state.State;
        var before = PublicStatus(now);
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
            var expiresAt = now + ttl;
            if (!current.Sources.TryGetValue(update.Source, out var previous) || previous.Status != update.Status)
            {
                mustWrite = true;
                current.Sources[update.Source] = new PresenceSource(update.Status, now, expiresAt);
            }
            else
            {
                if (!update.Renewal && (!_persistedExpiry.TryGetValue(update.Source, out var written)
                    || expiresAt - written >= CoalesceWindow(ttl)))
                {
                    // A held connection's renewal is never worth a write by itself: the grain lets go of its activation
                    // right after one (LetGoAfterHold), and the deactivation writes it then.
                    mustWrite = true;
                }
                previous.Refresh(now, expiresAt);
            }
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
        // A renewal is not activity: last_seen_at moves only as often as Stream refreshes last_active. A hold released
        // because its gateway died is none at all.
        if (activity && (!update.Renewal || current.LastSeenAt is not { } seen || now - seen >= PresenceUpdate.LastActiveRefresh))
        {
            current.LastSeenAt = now;
        }
        metrics.Updated();
        await Commit(now, before, mustWrite, cancellationToken);
        return View(now, own: true);
    }

    /// <summary>
    /// Writes the change (unless it is only a coalescable refresh) and tells the user's index shard what others
    /// now see, whenever they saw or see the user online (or an earlier publication may have been lost).
    /// </summary>
    private async Task Commit(DateTimeOffset now, string? publicBefore, bool mustWrite, CancellationToken cancellationToken)
    {
        var current = state.State;
        current.Version = Math.Max(current.Version + 1, now.UtcTicks);
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

        if (publicBefore is not null || PublicStatus(now) is not null || _publishPending)
        {
            await Publish(now);
        }
    }

    /// <summary>Tells the user's index shard what others now see (offline, frozen, while invisible).</summary>
    private async Task Publish(DateTimeOffset now)
    {
        var current = state.State;
        var steps = current.Invisible ? [] : PresenceTimeline.StepsAfter(current.Sources, now, current.Manual);
        var lastSeenAt = current.Invisible ? current.HiddenLastSeenAt : current.LastSeenAt;
        var profile = current.Invisible ? current.HiddenProfile ?? current.Profile : current.Profile;
        var statusText = current.Invisible ? null : current.StatusText;
        _publishPending = true;
        await index.Publish(Tenant, new IndexUpdate(UserId, current.Version, profile, lastSeenAt, PublicStatus(now), steps, statusText, Holds(now)));
        _publishPending = false;
    }

    /// <summary>The live stream holds among the user's sources, for the shard to release should their gateway die.</summary>
    private string[]? Holds(DateTimeOffset now)
    {
        List<string>? holds = null;
        foreach (var (name, source) in state.State.Sources)
        {
            if (PresenceSources.IsStreamHold(name) && source.ExpiresAt > now)
            {
                (holds ??= []).Add(name);
            }
        }
        return holds is null ? null : [.. holds];
    }

    private void ToggleInvisible(bool invisible)
    {
        var current = state.State;
        if (invisible)
        {
            // Frozen as others last saw them: nothing they see from now on gives away that the user is around.
            current.HiddenLastSeenAt = current.LastSeenAt;
            current.HiddenExt = current.Ext;
            current.HiddenDevices = [.. current.Devices];
            current.HiddenProfile = current.Profile;
        }
        current.Invisible = invisible;
    }

    private async Task HideInChannels(bool hidden)
    {
        var now = time.GetUtcNow();
        var channels = state.State.Channels.Where(c => c.Value > now).Select(c => c.Key).ToList();
        await Task.WhenAll(channels.Select(channelId =>
            GrainFactory.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(Tenant, channelId)).SetHidden(UserId, hidden)));
    }

    /// <summary>The effective status as others see it: null (offline) while invisible.</summary>
    private string? PublicStatus(DateTimeOffset now)
        => state.State.Invisible ? null : PresenceTimeline.EffectiveAt(state.State.Sources, now, state.State.Manual);

    private UserPresence View(DateTimeOffset now, bool own)
    {
        var current = state.State;
        if (current.Invisible && !own)
        {
            return new UserPresence(UserId, current.HiddenProfile ?? current.Profile, PresenceStatus.Offline, current.HiddenLastSeenAt);
        }
        var status = PresenceTimeline.EffectiveAt(current.Sources, now, current.Manual) ?? PresenceStatus.Offline;
        return new UserPresence(UserId, current.Profile, status, current.LastSeenAt, own && current.Invisible, current.StatusText);
    }

    /// <summary>
    /// The refresh window of this activation: between half of and the whole configured one, so users brought online
    /// together (a mass reconnect after an outage, a benchmark's warm-up) do not all rewrite their refreshes in the same
    /// second every minute (a storm of storage writes, and a latency spike with it).
    /// </summary>
    private readonly double _coalesceSpread = 0.5 + Random.Shared.NextDouble() / 2;

    private TimeSpan CoalesceWindow(TimeSpan ttl)
    {
        var quarter = ttl / 4;
        var configured = storage.Value.RefreshCoalesce * _coalesceSpread;
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the coalesced refresh of {UserId} at deactivation")]
    private partial void LogDeactivationWriteFailed(Exception error, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not bring the index up to date for {UserId} at deactivation; its entry follows its last published timeline until the next update")]
    private partial void LogDeactivationPublishFailed(Exception error, string userId);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Refresh of {UserId} coalesced: expiry kept in memory until the next write")]
    private partial void LogRefreshCoalesced(string userId);
}
