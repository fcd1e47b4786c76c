using System.Threading.Channels;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Realtime;

/// <summary>
/// One open stream: what it watches, and a bounded queue of events drained by one writer. A consumer that falls
/// more than the buffer behind is dropped, so it never holds up the hub or anyone else's events.
/// </summary>
public abstract class StreamConnection
{
    private static long s_nextId;

    private readonly Channel<EventFrame> _outbox;
    private readonly int _capacity;
    // Until the stream's first event (health.check) is queued, events wait here, so that one is always first.
    private List<EventFrame>? _held;
    private bool _opened;
    private bool _completed;

    protected StreamConnection(Caller caller, string[] users, string[] channels, int sendBuffer)
    {
        Caller = caller;
        Users = users;
        Channels = channels;
        Id = caller.UserId + "--" + Interlocked.Increment(ref s_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _capacity = sendBuffer;
        _outbox = Channel.CreateBounded<EventFrame>(new BoundedChannelOptions(sendBuffer)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping events silently
        });
    }

    public string Id { get; }

    public Caller Caller { get; }

    /// <summary>Users watched directly (the query's, and the caller's Agora subscriptions).</summary>
    public string[] Users { get; set; }

    /// <summary>Channels watched: their members' presence and their channel presence.</summary>
    public string[] Channels { get; }

    /// <summary>Whether the hub must send keep-alive frames (SSE); WebSockets ping by themselves.</summary>
    public abstract bool NeedsKeepAlive { get; }

    /// <summary>Why the connection was dropped, if it was.</summary>
    public string? DroppedBecause { get; private set; }

    /// <summary>Queues an event; false when the stream is closing, or (and then it is dropped) when the consumer is too far behind.</summary>
    public bool Post(EventFrame frame)
    {
        lock (_outbox)
        {
            if (!_opened)
            {
                _held ??= [];
                if (_held.Count < _capacity)
                {
                    _held.Add(frame);
                    return true;
                }
                return Drop();
            }
            return Write(frame);
        }
    }

    /// <summary>Queues the stream's first event, then whatever arrived before it.</summary>
    public void Open(EventFrame first)
    {
        lock (_outbox)
        {
            _opened = true;
            Write(first);
            foreach (var frame in _held ?? [])
            {
                Write(frame);
            }
            _held = null;
        }
    }

    private bool Write(EventFrame frame)
    {
        if (_outbox.Writer.TryWrite(frame))
        {
            return true;
        }
        return !_completed && Drop();
    }

    private bool Drop()
    {
        if (DroppedBecause is null)
        {
            DroppedBecause = "slow consumer: send buffer full";
            _completed = true;
            _outbox.Writer.TryComplete();
            Abort();
        }
        return false;
    }

    /// <summary>Writes queued events until the stream ends, flushing once per burst.</summary>
    public async Task PumpAsync(CancellationToken cancellationToken)
    {
        var reader = _outbox.Reader;
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (reader.TryRead(out var frame))
            {
                await WriteAsync(frame, cancellationToken);
            }
            await FlushAsync(cancellationToken);
        }
    }

    /// <summary>Ends the pump (the stream is closing): what is queued is still written, nothing more is accepted.</summary>
    public void Complete()
    {
        lock (_outbox)
        {
            _completed = true;
            _opened = true;
            _held = null;
            _outbox.Writer.TryComplete();
        }
    }

    protected abstract ValueTask WriteAsync(EventFrame frame, CancellationToken cancellationToken);

    protected abstract ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>Cuts the connection at once.</summary>
    protected abstract void Abort();
}
