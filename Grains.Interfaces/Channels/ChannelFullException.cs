namespace Presence.Channels;

/// <summary>A user would join a channel (subscribe, or set presence in it) that holds its configured maximum of members.</summary>
[GenerateSerializer, Alias("presence.ChannelFullException")]
public sealed class ChannelFullException : Exception
{
    public ChannelFullException()
    {
    }

    public ChannelFullException(string message) : base(message)
    {
    }

    public ChannelFullException(string message, Exception inner) : base(message, inner)
    {
    }
}
