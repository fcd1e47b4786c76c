namespace Presence.Grains.Index;

/// <summary>
/// The stream holds of gateways on a shard's users, by source, each alive until its lease ends: renewed by its
/// gateway's calls (<see cref="Presence.Index.IPresenceIndexGrain.RenewHold"/>), lapsed when they stop (the gateway
/// died). Leases that changed since the shard last took them are <see cref="TakeChanged">changed</see>, to store.
/// </summary>
internal sealed class HoldLeases
{
    // Made on the first hold: a node whose users no stream holds (most of them) holds no map.
    private Dictionary<string, HoldLease> _leases = None;

    // Never written: a node's map until its first hold.
    private static readonly Dictionary<string, HoldLease> None = new(StringComparer.Ordinal);

    private Dictionary<string, HoldLease> Leases => ReferenceEquals(_leases, None) ? _leases = new(StringComparer.Ordinal) : _leases;
    private HashSet<string>? _changed;

    public int Count => _leases.Count;

    /// <summary>Whether changed leases are remembered for <see cref="TakeChanged"/> (the shard stores them).</summary>
    public bool TrackChanges { get; init; }

    /// <summary>When the first lease ends; MaxValue when there is none.</summary>
    public DateTimeOffset EarliestEnd
    {
        get
        {
            var earliest = DateTimeOffset.MaxValue;
            foreach (var lease in _leases.Values)
            {
                if (lease.Until < earliest)
                {
                    earliest = lease.Until;
                }
            }
            return earliest;
        }
    }

    /// <summary>Every lease, as stored.</summary>
    public IEnumerable<HeldLease> All => _leases.Values.Select(l => new HeldLease(l.Source, l.RenewedAt, l.Until));

    /// <summary>Extends (or starts) a hold's lease; true when the hold was known alive.</summary>
    public bool Renew(string source, DateTimeOffset now, TimeSpan lease)
    {
        var alive = _leases.TryGetValue(source, out var hold);
        if (hold is null)
        {
            Leases.Add(source, hold = new HoldLease(source));
        }
        hold.RenewedAt = now;
        hold.Until = now + lease;
        Changed(source);
        return alive;
    }

    /// <summary>A lease as stored (at activation).</summary>
    public void Restore(string source, HoldLeaseSnapshot stored, bool changed = false)
    {
        Leases[source] = new HoldLease(source) { RenewedAt = stored.RenewedAt, Until = stored.Until };
        if (changed)
        {
            Changed(source);
        }
    }

    /// <summary>
    /// The holds of an entry. Only a gateway's own renewals make a lease here: a hold this shard has no lease for (the
    /// gateway predates holds by shard) is ended by the user's own backstop. A single hold with a lease (the usual
    /// case) is kept as the lease's own array, not one per user.
    /// </summary>
    public string[]? Known(string[]? holds)
        => holds is [var only] && _leases.TryGetValue(only, out var lease) ? lease.Alone : holds;

    /// <summary>Removes and returns the leases that ended at <paramref name="now"/>; nothing is allocated when none did.</summary>
    public List<HoldLease>? TakeLapsed(DateTimeOffset now)
    {
        List<HoldLease>? lapsed = null;
        foreach (var lease in _leases.Values)
        {
            if (lease.Until <= now)
            {
                (lapsed ??= []).Add(lease);
            }
        }
        foreach (var lease in lapsed ?? [])
        {
            _leases.Remove(lease.Source);
            Changed(lease.Source);
        }
        return lapsed;
    }

    /// <summary>Each lease changed since the last call, as it is now (null: ended).</summary>
    public IEnumerable<(string Source, HoldLeaseSnapshot? Lease)> TakeChanged()
    {
        if (_changed is not { } changed)
        {
            yield break;
        }
        _changed = null;
        foreach (var source in changed)
        {
            yield return (source, _leases.TryGetValue(source, out var lease) ? new HoldLeaseSnapshot { RenewedAt = lease.RenewedAt, Until = lease.Until } : null);
        }
    }

    private void Changed(string source)
    {
        if (TrackChanges)
        {
            (_changed ??= new HashSet<string>(StringComparer.Ordinal)).Add(source);
        }
    }
}

internal sealed class HoldLease(string source)
{
    public string Source { get; } = source;

    /// <summary>The hold as an entry's only one: shared by every user it holds here.</summary>
    public string[] Alone { get; } = [source];

    public DateTimeOffset RenewedAt { get; set; }

    public DateTimeOffset Until { get; set; }

    /// <summary>
    /// A user's hold is released unless set again since the middle of this lease: room for clock skew between silos,
    /// and a gateway that came back and set it again keeps it.
    /// </summary>
    public DateTimeOffset SetBefore => RenewedAt + (Until - RenewedAt) / 2;
}
