namespace Presence.Gateway.Stream;

/// <summary>Stream's channels are this service's channels: <c>{type}:{id}</c> (its cid) is the channel id every dialect shares.</summary>
public static class StreamChatChannels
{
    public const string InvalidCid = "a channel is {type}:{id}: a type of 1-64 lowercase letters, digits, '_' or '-', and an id of letters, digits, '_', '.', '-', '@' (128 characters in all)";

    /// <summary>The type and id of a cid, or null if it is not one this service can hold.</summary>
    public static (string Type, string Id)? Split(string cid)
    {
        var colon = cid.IndexOf(':');
        return colon > 0 && IsValid(cid[..colon], cid[(colon + 1)..]) ? (cid[..colon], cid[(colon + 1)..]) : null;
    }

    public static bool IsValid(string type, string id)
        => type.Length is > 0 and <= 64 && type.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-')
            && id.Length > 0 && !id.Contains(':') && PresenceKeys.IsValidId(type + ":" + id, PresenceKeys.MaxChannelIdLength);
}
