using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime;

/// <summary>
/// One open stream: what it watches, and a bounded queue of events. The thread that posts an event to an idle
/// stream writes it at once (the write almost always completes synchronously into the transport's buffer), so a
/// fan-out to thousands of streams costs no thread hop per stream; a stream whose writes are pending queues what
/// follows, and one that falls more than the buffer behind is dropped, never holding up the hub or anyone else.
/// </summary>
public abstract class StreamConnection
{
    private static long s_nextId;

    private readonly Lock _lock = new();
    private readonly int _capacity;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Queue<EventFrame>? _queue;
    // Until the stream's first event (health.check) is queued, events wait here, so that one is always first.
    private List<EventFrame>? _held;
    private bool _opened;
    private bool _writing;
    private bool _accepting = true;
    private CancellationTokenSource? _stop;
    private CancellationToken _lifetime;

    private readonly long _number = Interlocked.Increment(ref s_nextId);

    protected StreamConnection(Caller caller, string[] users, string[] channels, int sendBuffer, EventShape shape = EventShape.Realtime)
    {
        Shape = shape;
        Caller = caller;
        Users = users;
        Channels = channels;
        _capacity = sendBuffer;
    }

    // Ids are numbered per process: this prefix, random per gateway, tells one gateway's connection from another's.
    private static readonly string s_gateway = Guid.NewGuid().ToString("N")[..8];

    /// <summary>
    /// The connection's id in events and logs, <c>{user}--{gateway}-{number}</c> (built when asked: an open stream does
    /// not keep the string).
    /// </summary>
    public string Id => Caller.UserId + "--" + s_gateway + "-" + _number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The connection's number, unique in this process.</summary>
    public long Number => _number;

    public Caller Caller { get; }

    /// <summary>The protocol of its events: this service's realtime events, or Stream Chat's SDK.</summary>
    public EventShape Shape { get; }

    /// <summary>Users watched directly (the query's, the caller's Agora subscriptions, Stream's presence queries): set as the stream opens, then changed under the hub's lock.</summary>
    public string[] Users { get; set; }

    /// <summary>Channels watched: their members' presence and their channel presence; changed under the hub's lock.</summary>
    public string[] Channels { get; set; }

    /// <summary>Whether the hub must send keep-alive frames (SSE, and direct WebSockets); Kestrel's WebSockets ping by themselves.</summary>
    public abstract bool NeedsKeepAlive { get; }

    /// <summary>Why the connection was dropped, if it was.</summary>
    public string? DroppedBecause { get; private set; }

    /// <summary>Completes when the stream ends: its lifetime is over, a write failed, or it was dropped.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Starts writing: until <paramref name="lifetime"/> ends (the client left, shutdown, token expiry) or <see cref="StopAsync"/>.</summary>
    public void Start(CancellationToken lifetime) => Start(CancellationTokenSource.CreateLinkedTokenSource(lifetime));

    /// <summary>Starts writing until <paramref name="lifetime"/> is cancelled, which the connection now owns (and disposes).</summary>
    public void Start(CancellationTokenSource lifetime)
    {
        _stop = lifetime;
        _lifetime = lifetime.Token;
        _lifetime.Register(static state => ((StreamConnection)state!).End(), this);
    }

    /// <summary>
    /// Ends the stream for good and returns once no write is running: after this the response (which the server
    /// may reuse for the connection's next request) is never touched again.
    /// </summary>
    public async Task StopAsync()
    {
        lock (_lock)
        {
            _accepting = false;
            _held = null;
            _queue?.Clear();
        }
        End();
        if (_stop is { } stop)
        {
            await stop.CancelAsync(); // a write waiting on a slow client gives up
        }
        var deadline = Environment.TickCount64 + 10_000;
        while (Environment.TickCount64 < deadline)
        {
            lock (_lock)
            {
                if (!_writing)
                {
                    break;
                }
            }
            await Task.Delay(5);
        }
        _stop?.Dispose();
    }

    /// <summary>The stream's last frame (it fails, or closes): queued even before the stream opened, then nothing more is accepted.</summary>
    public void Fail(EventFrame last)
    {
        lock (_lock)
        {
            _opened = true;
            _held = null;
            if (!_accepting || !Enqueue(last))
            {
                return;
            }
            _accepting = false;
            if (_writing)
            {
                return;
            }
            _writing = true;
        }
        _ = DrainAsync();
    }

    /// <summary>Queues (or writes at once) an event; false when the stream is closing, or (and then it is dropped) too far behind.</summary>
    public bool Post(EventFrame frame)
    {
        lock (_lock)
        {
            if (!_accepting)
            {
                return false;
            }
            if (!_opened)
            {
                _held ??= [];
                if (_held.Count < _capacity - 1) // one place is the first event's
                {
                    _held.Add(frame);
                    return true;
                }
                return Drop();
            }
            if (!Enqueue(frame))
            {
                return false;
            }
            if (_writing)
            {
                return true;
            }
            _writing = true;
        }
        _ = DrainAsync();
        return true;
    }

    /// <summary>Queues the stream's first event, then whatever arrived before it.</summary>
    public void Open(EventFrame first)
    {
        lock (_lock)
        {
            _opened = true;
            if (!_accepting || !Enqueue(first))
            {
                return;
            }
            foreach (var frame in _held ?? [])
            {
                if (!Enqueue(frame))
                {
                    return;
                }
            }
            _held = null;
            if (_writing)
            {
                return;
            }
            _writing = true;
        }
        _ = DrainAsync();
    }

    /// <summary>Waits (at most <paramref name="patience"/>) until everything queued has been written.</summary>
    public async Task DrainedAsync(TimeSpan patience)
    {
        var deadline = Environment.TickCount64 + (long)patience.TotalMilliseconds;
        while (Environment.TickCount64 < deadline && !_ended.Task.IsCompleted)
        {
            lock (_lock)
            {
                if (!_writing && (_queue is null || _queue.Count == 0))
                {
                    return;
                }
            }
            await Task.Delay(10);
        }
    }

    /// <summary>Writes queued events until none is left, on the posting thread for as long as writes complete synchronously.</summary>
    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                EventFrame frame;
                bool last;
                lock (_lock)
                {
                    if (_ended.Task.IsCompleted || _queue is null || !_queue.TryDequeue(out frame!))
                    {
                        _writing = false;
                        return;
                    }
                    last = _queue.Count == 0;
                }
                await WriteAsync(frame, _lifetime);
                if (last)
                {
                    await FlushAsync(_lifetime);
                }
            }
        }
        catch (Exception)
        {
            // The client is gone (or the stream's lifetime ended mid-write): the stream ends and takes nothing more.
            lock (_lock)
            {
                _writing = false;
                _accepting = false;
                _queue?.Clear();
            }
            End();
        }
    }

    private bool Enqueue(EventFrame frame)
    {
        _queue ??= new Queue<EventFrame>(4);
        if (_queue.Count >= _capacity)
        {
            return Drop();
        }
        _queue.Enqueue(frame);
        return true;
    }

    private bool Drop()
    {
        if (DroppedBecause is null)
        {
            DroppedBecause = "slow consumer: send buffer full";
            _accepting = false;
            _queue?.Clear();
            Abort();
            End();
        }
        return false;
    }

    /// <summary>The most bytes of a message a client may send: Stream's SDK sends only its pings, about 80 bytes.</summary>
    public const int MaxClientMessage = 4096;

    /// <summary>
    /// How much of each client message is kept and handed to <see cref="ReceivedMessage"/>: Stream's SDK pings with text
    /// messages (up to <see cref="MaxClientMessage"/>; longer ones end the stream); this service's own clients' are
    /// skipped (0).
    /// </summary>
    public int KeptMessageBytes => Shape == EventShape.StreamChat ? MaxClientMessage : 0;

    /// <summary>
    /// A whole text message from the client. Stream's SDK pings with <c>[{"type":"health.check","client_id"}]</c>
    /// and re-arms its next ping only on a <c>health.check</c>: each is answered. Anything else is ignored.
    /// </summary>
    public void ReceivedMessage(ReadOnlySpan<byte> message)
    {
        if (Shape == EventShape.StreamChat && Stream.StreamChatEvents.IsPing(message))
        {
            Post(Stream.StreamChatEvents.Pong(Id, DateTimeOffset.UtcNow));
        }
    }

    /// <summary>Ends the stream (once the client left, for instance).</summary>
    protected void End() => _ended.TrySetResult();

    /// <summary>Ends the stream because the gateway shuts down.</summary>
    public void Shutdown() => End();

    protected abstract ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken);

    protected abstract ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>Cuts the connection at once.</summary>
    protected abstract void Abort();
}
