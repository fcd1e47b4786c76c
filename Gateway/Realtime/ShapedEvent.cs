namespace Presence.Gateway.Realtime;

/// <summary>The protocol a stream's events follow.</summary>
public enum EventShape : byte
{
    /// <summary>This service's realtime events (<c>/v1/events</c>, <c>/v1/stream</c>).</summary>
    Realtime,

    /// <summary>Stream Chat's SDK (<c>/connect</c>).</summary>
    StreamChat,
}

/// <summary>
/// One change as each protocol writes it, each shape built once however many streams receive it (two threads of a
/// parallel fan-out may both build it; the first one stored is the one every stream gets). A shape may have no event
/// for a change (null).
/// </summary>
public sealed class ShapedEvent(Func<EventShape, EventFrame?> build)
{
    private static readonly EventFrame None = new([]);

    private EventFrame? _realtime;
    private EventFrame? _streamChat;

    public EventFrame? For(EventShape shape)
    {
        ref var slot = ref shape == EventShape.StreamChat ? ref _streamChat : ref _realtime;
        var frame = Volatile.Read(ref slot) ?? Interlocked.CompareExchange(ref slot, build(shape) ?? None, null) ?? Volatile.Read(ref slot);
        return ReferenceEquals(frame, None) ? null : frame;
    }
}
