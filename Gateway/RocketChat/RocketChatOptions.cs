namespace Presence.Gateway.RocketChat;

/// <summary><c>Presence:RocketChat</c>: the Rocket.Chat dialect.</summary>
public sealed class RocketChatOptions
{
    public const string Section = "Presence:RocketChat";

    /// <summary>Rocket.Chat's Presence_broadcast_disabled: users.presence answers with no users.</summary>
    public bool BroadcastDisabled { get; set; }
}
