namespace Presence.Model;

/// <summary>What other users see of a user besides presence. Taken from the user's own token claims.</summary>
[GenerateSerializer, Immutable, Alias("presence.UserProfile")]
public sealed record UserProfile(string? Username, string? Name, string? AvatarUrl)
{
    public static readonly UserProfile Empty = new(null, null, null);
}
