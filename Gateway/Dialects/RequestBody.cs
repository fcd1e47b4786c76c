using System.Buffers;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace Presence.Gateway.Dialects;

/// <summary>
/// Request bodies, read the same way in every dialect: whole, up to <c>Presence:Http:MaxBodyBytes</c> (a larger one is
/// refused with 413 without being read further), once per request (a call retried during a failover, see
/// <see cref="Hosting.TransientRetry"/>, gets the first result again: the body can be read only once), and JSON parsed
/// to a depth of <see cref="MaxDepth"/> with every string valid text. The same failure has the same message in every
/// dialect, in that dialect's format.
/// </summary>
public static class RequestBody
{
    public const int MaxDepth = 16;

    public const string Malformed = "malformed JSON body";
    public const string Required = "a JSON body is required";
    public const string CutShort = "request body is shorter than its Content-Length";

    public static string TooLarge(int maxBytes) => $"request body too large: at most {maxBytes} bytes";

    public static string Unsupported(string? mediaType, string accepted) => $"unsupported content type '{mediaType}': send {accepted}";

    /// <summary>
    /// A JSON body (its content type absent, <c>application/json</c> or <c>*/*+json</c>), or the failure: 413 too large,
    /// 415 another content type, 400 cut short, empty or malformed.
    /// </summary>
    public static async ValueTask<(JsonElement Json, Failure<TDialect>? Failure)> ReadJsonAsync<TDialect>(HttpContext http, int maxBytes)
        where TDialect : Dialect, IDialect<TDialect>
    {
        var request = http.Request;
        if (!string.IsNullOrWhiteSpace(request.ContentType) && MediaType(request) is var mediaType && !IsJson(mediaType))
        {
            return (default, new Failure<TDialect>(StatusCodes.Status415UnsupportedMediaType, Unsupported(mediaType ?? request.ContentType, "application/json")));
        }
        var (bytes, problem) = await BytesAsync(http, maxBytes);
        if (problem is { } p)
        {
            return (default, new Failure<TDialect>(p.Status, p.Message));
        }
        return bytes.Length == 0 ? (default, Failure<TDialect>.BadRequest(Required)) : ParseJson<TDialect>(bytes);
    }

    /// <summary>The body's bytes (empty when there is none), for a dialect that also reads other media types.</summary>
    public static async ValueTask<(byte[] Bytes, Failure<TDialect>? Failure)> ReadBytesAsync<TDialect>(HttpContext http, int maxBytes)
        where TDialect : Dialect, IDialect<TDialect>
    {
        var (bytes, problem) = await BytesAsync(http, maxBytes);
        return problem is { } p ? ([], new Failure<TDialect>(p.Status, p.Message)) : (bytes, null);
    }

    /// <summary>Parses JSON bytes as every dialect does; the failure is 400 <see cref="Malformed"/>.</summary>
    public static (JsonElement Json, Failure<TDialect>? Failure) ParseJson<TDialect>(ReadOnlyMemory<byte> bytes)
        where TDialect : Dialect, IDialect<TDialect>
        => Parse(bytes) is { } json ? (json, null) : (default, Failure<TDialect>.BadRequest(Malformed));

    /// <summary>Whether a media type is JSON: <c>application/json</c> or a <c>+json</c> suffix.</summary>
    public static bool IsJson(string? mediaType)
        => mediaType is not null && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>The request's media type (lower case, no parameters), or null when it has none.</summary>
    public static string? MediaType(HttpRequest request) => request.ContentType switch
    {
        // What clients send nearly always, answered without parsing the header.
        "application/json" or "application/json; charset=utf-8" => "application/json",
        "application/x-www-form-urlencoded" => "application/x-www-form-urlencoded",
        var header => MediaTypeHeaderValue.TryParse(header, out var contentType) ? contentType.MediaType.Value?.ToLowerInvariant() : null,
    };

    private readonly record struct Problem(int Status, string Message);

    /// <summary>
    /// The body as first read, kept for a retried handler. A request feature: Kestrel keeps a connection's list of
    /// extra features from one request to the next, where the items dictionary is a new one per request.
    /// </summary>
    private sealed class KeptBody(byte[] bytes, Problem? problem)
    {
        public (byte[] Bytes, Problem? Problem) Read => (bytes, problem);
    }

    /// <summary>The JSON, or null when it is malformed, too deep, or holds a string that is not valid text.</summary>
    private static JsonElement? Parse(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth });
            EnsureStringsDecode(document.RootElement);
            return document.RootElement.Clone();
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Throws InvalidOperationException for a string that is not valid text (a lone surrogate escape).</summary>
    private static void EnsureStringsDecode(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                _ = element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    EnsureStringsDecode(item);
                }
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    EnsureStringsDecode(property.Value);
                }
                break;
        }
    }

    /// <summary>The body, read once per request and kept: a retried handler gets the same bytes (or failure) again.</summary>
    private static async ValueTask<(byte[] Bytes, Problem? Problem)> BytesAsync(HttpContext http, int maxBytes)
    {
        if (http.Features.Get<KeptBody>() is { } kept)
        {
            return kept.Read;
        }
        (byte[], Problem?) read;
        try
        {
            read = await ReadAsync(http.Request, maxBytes, http.RequestAborted) is { } bytes
                ? (bytes, null)
                : ([], new Problem(StatusCodes.Status413PayloadTooLarge, TooLarge(maxBytes)));
        }
        catch (EndOfStreamException)
        {
            read = ([], new Problem(StatusCodes.Status400BadRequest, CutShort));
        }
        http.Features.Set(new KeptBody(read.Item1, read.Item2));
        return read;
    }

    /// <summary>The body, or null when it is longer than <paramref name="maxBytes"/>; EndOfStreamException when cut short.</summary>
    private static async ValueTask<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }
        if (request.ContentLength is { } length)
        {
            // The common case: a small body of announced length, read straight into an array of that size.
            var exact = new byte[length];
            await request.Body.ReadExactlyAsync(exact, cancellationToken);
            return exact;
        }
        var chunk = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            using var buffer = new MemoryStream();
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return null;
                }
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
