using System.Buffers;
using System.Text;

namespace Presence.Model;

/// <summary>The status vocabulary shared by every dialect.</summary>
public static class PresenceStatus
{
    public const string Online = "online";
    public const string Offline = "offline";
    public const int MaxLength = 100;

    /// <summary>
    /// Parses a client-supplied status the way pnut defines it: unset, empty or "1" mean online; "offline" or "0"
    /// mean offline (returned as null: the source is deleted); anything else is a custom status of at most 100
    /// Unicode code points without control characters. Surrounding white space is not part of a status.
    /// </summary>
    public static StatusParse Parse(string? raw)
    {
        var text = raw?.Trim();
        if (string.IsNullOrEmpty(text) || text == "1" || text.Equals(Online, StringComparison.OrdinalIgnoreCase))
        {
            return StatusParse.Valid(Online);
        }
        if (text == "0" || text.Equals(Offline, StringComparison.OrdinalIgnoreCase))
        {
            return StatusParse.Valid(null);
        }
        var codePoints = 0;
        for (var rest = text.AsSpan(); !rest.IsEmpty; codePoints++)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var used) != OperationStatus.Done)
            {
                return StatusParse.Invalid("presence contains an invalid UTF-16 sequence");
            }
            if (Rune.IsControl(rune))
            {
                return StatusParse.Invalid("presence must not contain control characters");
            }
            rest = rest[used..];
        }
        if (codePoints > MaxLength)
        {
            return StatusParse.Invalid($"presence is limited to {MaxLength} characters, got {codePoints}");
        }
        return StatusParse.Valid(text);
    }
}

/// <summary>Result of <see cref="PresenceStatus.Parse"/>: Status is null for "offline" (delete).</summary>
public readonly record struct StatusParse(bool IsValid, string? Status, string? Error)
{
    public static StatusParse Valid(string? status) => new(true, status, null);
    public static StatusParse Invalid(string error) => new(false, null, error);
}
