namespace Presence.Gateway.Realtime;

/// <summary>Realtime streams (<c>Presence:Realtime</c>): connection-held presence, keep-alives and the limits of a connection.</summary>
public sealed class RealtimeOptions
{
    public const string Section = "Presence:Realtime";

    /// <summary>How long a user stays online after its last stream closed, so reconnects do not flap. Zero: at once.</summary>
    public TimeSpan DisconnectGrace { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a gateway's hold on a user's presence lasts unless renewed (renewed every third of it while a
    /// stream is open): the longest a user can stay online after its gateway died.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Interval of SSE keep-alive comments and WebSocket pings.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    public int MaxChannelsPerConnection { get; set; } = 50;

    public int MaxUsersPerConnection { get; set; } = 1000;

    /// <summary>Open streams of one user on one gateway.</summary>
    public int MaxConnectionsPerUser { get; set; } = 20;

    /// <summary>
    /// Whether a connection that opens a stream with its first request is served on its own socket, beside
    /// Kestrel's HTTP (see <c>Direct.DirectStreams</c>): about a fifth of the memory per open stream. Off: every
    /// stream is an HTTP request in Kestrel.
    /// </summary>
    public bool DirectStreams { get; set; } = true;

    /// <summary>Events queued for one connection; a consumer that falls further behind is disconnected.</summary>
    public int SendBuffer { get; set; } = 256;
}
