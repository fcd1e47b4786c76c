using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Presence.Gateway.Realtime.Direct;

/// <summary>What waits for its socket to have something to read (or to be closed by the peer).</summary>
public interface IReadableSocket : IThreadPoolWorkItem
{
}

/// <summary>
/// Waits, with one epoll set and one thread, for any of many sockets to have something to read. A stream is idle
/// nearly all its life, and an awaited receive would keep, per socket, the socket's asynchronous event args, its
/// operation object, a callback and a suspended method: about a kilobyte per idle stream, a quarter of what it costs
/// in all. Here a waiting socket costs one dictionary entry. Each wait is one-shot: when the socket becomes readable
/// (or the peer hangs up) its target runs once on the thread pool, reads without blocking, and waits again.
/// Linux only (<see cref="IsSupported"/>); elsewhere streams stay in Kestrel.
/// </summary>
public sealed partial class IdleSockets : IDisposable
{
    private const int EpollIn = 0x001, EpollErr = 0x008, EpollHup = 0x010, EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const int EpollCtlAdd = 1, EpollCtlDel = 2, EpollCtlMod = 3, EpollCloExec = 0x80000;
    private const int Interrupted = 4; // EINTR
    private const uint Readable = EpollIn | EpollRdHup | EpollErr | EpollHup | EpollOneShot;

    // struct epoll_event { uint32_t events; uint64_t data; }: packed on x86-64, naturally aligned on arm64.
    private static readonly int Stride = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = Stride - 8;

    private readonly Lock _lock = new();
    private readonly Dictionary<long, IReadableSocket> _waiting = [];
    private readonly ILogger<IdleSockets> _logger;
    private int _epoll = -1;
    private volatile Thread? _thread;
    private long _nextToken;
    private volatile bool _disposed;

    public IdleSockets(ILogger<IdleSockets> logger) => _logger = logger;

    public static bool IsSupported { get; } = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>A token for <see cref="Watch"/>, known to its target before any event can name it.</summary>
    public long NewToken() => Interlocked.Increment(ref _nextToken);

    /// <summary>Registers <paramref name="socket"/> under <paramref name="token"/>: <paramref name="target"/> runs once it is readable.</summary>
    public void Watch(Socket socket, long token, IReadableSocket target)
    {
        Start();
        lock (_lock)
        {
            _waiting.Add(token, target);
        }
        int result;
        try
        {
            result = Control(EpollCtlAdd, socket, token);
        }
        catch (ObjectDisposedException)
        {
            Forget(socket, token); // closed meanwhile: the entry must not keep its target alive
            throw;
        }
        if (result != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            Forget(socket, token);
            throw new SocketException(error);
        }
    }

    /// <summary>Waits again, after the target ran (each wait is one-shot).</summary>
    public void Rearm(Socket socket, long token)
    {
        if (Control(EpollCtlMod, socket, token) != 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Stops waiting for the socket (before it is closed, or handed over).</summary>
    public void Forget(Socket socket, long token)
    {
        lock (_lock)
        {
            _waiting.Remove(token);
        }
        try
        {
            Control(EpollCtlDel, socket, token);
        }
        catch (ObjectDisposedException)
        {
            // Closed already: closing took it out of the set.
        }
    }

    /// <summary>
    /// Changes the socket's registration. The handle is held open meanwhile: a socket closed just before would
    /// otherwise name a descriptor number that another, new socket may already have.
    /// </summary>
    private int Control(int operation, Socket socket, long token)
    {
        Span<byte> change = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(change, Readable);
        BinaryPrimitives.WriteInt64LittleEndian(change[DataOffset..], token);
        var handle = socket.SafeHandle;
        var held = false;
        try
        {
            handle.DangerousAddRef(ref held); // throws ObjectDisposedException once closed
            return EpollCtl(_epoll, operation, (int)handle.DangerousGetHandle(), change);
        }
        finally
        {
            if (held)
            {
                handle.DangerousRelease();
            }
        }
    }

    private void Start()
    {
        if (_thread is not null)
        {
            return;
        }
        lock (_lock)
        {
            if (_thread is not null)
            {
                return;
            }
            _epoll = EpollCreate1(EpollCloExec);
            if (_epoll < 0)
            {
                throw new SocketException(Marshal.GetLastPInvokeError());
            }
            _thread = new Thread(Loop) { IsBackground = true, Name = "Presence idle streams" };
            _thread.Start();
        }
    }

    private void Loop()
    {
        const int batch = 256;
        var events = new byte[batch * Stride];
        while (!_disposed)
        {
            // A timeout, so that disposing is noticed even when nothing happens.
            var ready = EpollWait(_epoll, events, batch, 1000);
            if (ready < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == Interrupted)
                {
                    continue;
                }
                LogWaitFailed(error);
                Thread.Sleep(100);
                continue;
            }
            for (var i = 0; i < ready; i++)
            {
                var token = BinaryPrimitives.ReadInt64LittleEndian(events.AsSpan(i * Stride + DataOffset));
                IReadableSocket? target;
                lock (_lock)
                {
                    _waiting.TryGetValue(token, out target);
                }
                if (target is not null)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(target, preferLocal: false);
                }
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _thread?.Join(TimeSpan.FromSeconds(2));
        if (_epoll >= 0)
        {
            Close(_epoll);
            _epoll = -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, ReadOnlySpan<byte> @event);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epfd, Span<byte> events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LoggerMessage(Level = LogLevel.Error, Message = "Waiting for idle stream sockets failed (errno {Error}); retrying")]
    private partial void LogWaitFailed(int error);
}
