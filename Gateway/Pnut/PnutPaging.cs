using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Presence.Index;

namespace Presence.Gateway.Pnut;

/// <summary>
/// pnut pagination: <c>count</c> (default 20, at most 200) and <c>before_id</c>. Lists are walked forward with
/// an opaque cursor: each page's <c>meta.min_id</c> is the <c>before_id</c> of the next, and <c>meta.more</c> says
/// whether there may be one.
/// </summary>
public static class PnutPaging
{
    public const int DefaultCount = 20;
    public const int MaxCount = 200;

    public static Failure<PnutDialect>? TryRead(HttpRequest request, out int count, out string? before)
    {
        count = DefaultCount;
        before = request.Query["before_id"].Count > 0 ? request.Query["before_id"][0] : null;
        var raw = request.Query["count"];
        if (raw.Count == 0)
        {
            return null;
        }
        if (!int.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1)
        {
            return Failure<PnutDialect>.BadRequest($"count must be a whole number from 1 to {MaxCount}");
        }
        count = Math.Min(count, MaxCount);
        return null;
    }

    public static string Encode(DirectoryCursor cursor)
        => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{cursor.Shard}:{cursor.AfterUserId}")));

    public static string Encode(string afterUserId) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(afterUserId));

    public static bool TryDecode(string? before, out DirectoryCursor? cursor)
    {
        cursor = null;
        if (before is null)
        {
            return true;
        }
        if (!TryDecodeText(before, out var text) || text.IndexOf(':') is var colon && colon < 1
            || !int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var shard))
        {
            return false;
        }
        var after = text[(colon + 1)..];
        if (after.Length > 0 && !PresenceKeys.IsValidId(after))
        {
            return false;
        }
        cursor = new DirectoryCursor(shard, after.Length == 0 ? null : after);
        return true;
    }

    public static bool TryDecode(string? before, out string? afterUserId)
    {
        afterUserId = null;
        if (before is null)
        {
            return true;
        }
        if (!TryDecodeText(before, out var text) || !PresenceKeys.IsValidId(text))
        {
            return false;
        }
        afterUserId = text;
        return true;
    }

    private static bool TryDecodeText(string encoded, out string text)
    {
        text = "";
        if (encoded.Length > 256)
        {
            return false;
        }
        var bytes = new byte[Base64Url.GetMaxDecodedLength(encoded.Length)];
        if (Base64Url.DecodeFromChars(encoded, bytes, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }
        try
        {
            text = new UTF8Encoding(false, true).GetString(bytes, 0, written);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    public static Failure<PnutDialect> InvalidCursor() => Failure<PnutDialect>.BadRequest("before_id is not a cursor this service issued (pass meta.min_id of the previous page)");
}
