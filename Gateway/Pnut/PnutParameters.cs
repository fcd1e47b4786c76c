using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Presence.Gateway.Dialects;

namespace Presence.Gateway.Pnut;

/// <summary>
/// A pnut call's parameters, wherever the client put them: a JSON object body, form fields (urlencoded or
/// multipart), or the query string, in that order of precedence. A body is read up to the configured cap
/// (<c>Presence:Http:MaxBodyBytes</c>); past it the call is refused with 413 and nothing is changed.
/// </summary>
public sealed class PnutParameters
{
    // A JSON value that cannot be a parameter (object, array): reported when the parameter is asked for.
    private const string NotAScalar = "\0not-a-scalar";

    private readonly Dictionary<string, string> _body;
    private readonly HttpRequest _request;

    private PnutParameters(Dictionary<string, string> body, HttpRequest request) => (_body, _request) = (body, request);

    /// <summary>The value of <paramref name="name"/>; false with an error when it is present but unusable.</summary>
    public bool TryGet(string name, out string? value, out string? error)
    {
        error = null;
        if (_body.TryGetValue(name, out value))
        {
            if (value == NotAScalar)
            {
                value = null;
                error = $"{name} must be a string or a number";
                return false;
            }
            return true;
        }
        var query = _request.QueryValue(name);
        value = query.Count == 0 ? null : query[0];
        return true;
    }

    /// <summary>Whether the call carries <paramref name="name"/> at all (body or query).</summary>
    public bool Has(string name) => _body.ContainsKey(name) || _request.QueryValue(name).Count > 0;

    /// <summary>A flag: true/false or 1/0; absent is null. False with an error when it is something else.</summary>
    public bool TryGetFlag(string name, out bool? value, out string? error)
    {
        value = null;
        if (!TryGet(name, out var raw, out error))
        {
            return false;
        }
        switch (raw?.Trim().ToLowerInvariant())
        {
            case null:
                return true;
            case "true" or "1":
                value = true;
                return true;
            case "false" or "0":
                value = false;
                return true;
            default:
                error = $"{name} must be true or false";
                return false;
        }
    }

    /// <summary>
    /// Reads the call's parameters. The body is read once per request (<see cref="RequestBody"/>): a handler retried
    /// during a failover parses the same bytes again.
    /// </summary>
    public static async ValueTask<(PnutParameters? Parameters, Failure<PnutDialect>? Error)> ReadAsync(HttpContext http, int maxBytes)
    {
        var request = http.Request;
        var (bytes, failure) = await RequestBody.ReadBytesAsync<PnutDialect>(http, maxBytes);
        if (failure is not null)
        {
            return (null, failure);
        }
        var body = new Dictionary<string, string>(StringComparer.Ordinal);
        if (bytes.Length == 0)
        {
            return (new PnutParameters(body, request), null);
        }

        var mediaType = RequestBody.MediaType(request);
        var looksLikeJson = mediaType is null && bytes.AsSpan().TrimStart(" \t\r\n"u8).StartsWith("{"u8);
        if (RequestBody.IsJson(mediaType) || looksLikeJson)
        {
            return ReadJson(bytes, body, request);
        }
        if (mediaType is null or "application/x-www-form-urlencoded")
        {
            return ReadUrlEncoded(bytes, body, request);
        }
        if (mediaType is "multipart/form-data")
        {
            request.Body = new MemoryStream(bytes, writable: false);
            try
            {
                var form = await request.ReadFormAsync(http.RequestAborted);
                foreach (var (key, values) in form)
                {
                    body[key] = values.Count == 1 ? values[0]! : NotAScalar;
                }
            }
            catch (Exception error) when (error is InvalidDataException or IOException)
            {
                return (null, Failure<PnutDialect>.BadRequest("malformed multipart body"));
            }
            return (new PnutParameters(body, request), null);
        }
        return (null, new Failure<PnutDialect>(StatusCodes.Status415UnsupportedMediaType, RequestBody.Unsupported(mediaType, "application/json or form fields")));
    }

    private static (PnutParameters?, Failure<PnutDialect>?) ReadUrlEncoded(byte[] bytes, Dictionary<string, string> body, HttpRequest request)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return (null, Failure<PnutDialect>.BadRequest("malformed form body: not UTF-8"));
        }
        try
        {
            // Disposed: the reader rents a 16 KB buffer, which an undisposed reader never gives back.
            using var reader = new FormReader(text);
            foreach (var (key, values) in reader.ReadForm())
            {
                body[key] = values.Count == 1 ? values[0]! : NotAScalar;
            }
        }
        catch (InvalidDataException)
        {
            return (null, Failure<PnutDialect>.BadRequest("malformed form body: too many fields or a field name too long"));
        }
        return (new PnutParameters(body, request), null);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static (PnutParameters?, Failure<PnutDialect>?) ReadJson(byte[] bytes, Dictionary<string, string> body, HttpRequest request)
    {
        var (json, failure) = RequestBody.ParseJson<PnutDialect>(bytes);
        if (failure is not null)
        {
            return (null, failure);
        }
        if (json.ValueKind != JsonValueKind.Object)
        {
            return (null, Failure<PnutDialect>.BadRequest("JSON body must be an object"));
        }
        foreach (var property in json.EnumerateObject())
        {
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.String:
                    body[property.Name] = property.Value.GetString()!;
                    break;
                case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                    body[property.Name] = property.Value.GetRawText();
                    break;
                case JsonValueKind.Null:
                    break;
                default:
                    body[property.Name] = NotAScalar;
                    break;
            }
        }
        return (new PnutParameters(body, request), null);
    }
}
