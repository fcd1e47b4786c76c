using Microsoft.Extensions.Options;

namespace Presence.Gateway.Realtime;

/// <summary>
/// Presence switched off per channel type, as Stream allows: a channel id may carry a type prefix
/// ("messaging:general"), and <c>Presence:ChannelTypes:messaging:Enabled=false</c> turns presence off for every
/// channel of that type: no channel presence accepted or listed, no events for its watchers.
/// </summary>
public sealed class ChannelTypes
{
    public const string Section = "Presence:ChannelTypes";

    private readonly HashSet<string> _disabled = new(StringComparer.Ordinal);

    public ChannelTypes(IConfiguration configuration)
    {
        foreach (var type in configuration.GetSection(Section).GetChildren())
        {
            var raw = type["Enabled"];
            if (raw is null)
            {
                continue;
            }
            if (!bool.TryParse(raw, out var enabled))
            {
                throw new OptionsValidationException(Section, typeof(ChannelTypes), [$"{Section}:{type.Key}:Enabled must be true or false, got '{raw}'."]);
            }
            if (!enabled)
            {
                _disabled.Add(type.Key);
            }
        }
    }

    /// <summary>The type prefix of a channel id ("messaging" in "messaging:general"), or null.</summary>
    public static string? TypeOf(string channelId)
    {
        var colon = channelId.IndexOf(':');
        return colon > 0 ? channelId[..colon] : null;
    }

    public bool IsEnabled(string channelId) => _disabled.Count == 0 || TypeOf(channelId) is not { } type || !_disabled.Contains(type);
}
