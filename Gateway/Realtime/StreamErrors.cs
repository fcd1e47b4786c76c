using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Presence.Gateway.Errors;
using Presence.Gateway.Hosting;

namespace Presence.Gateway.Realtime;

/// <summary>Stream's error body: <c>{"code":4,"message":"...","StatusCode":400,"duration":"0.00ms","more_info":""}</c>.</summary>
public sealed record StreamErrorBody(
    int Code,
    string Message,
    [property: JsonPropertyName("StatusCode")] int StatusCode,
    string Duration = "0.00ms",
    string MoreInfo = "");

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StreamErrorBody))]
public sealed partial class StreamJsonContext : JsonSerializerContext
{
    // Messages quote ids and names: written as UTF-8 like the other dialects, not as \u escapes. (Lazy: the
    // generated Default is initialised in another part of this class, in no guaranteed order.)
    public static StreamJsonContext Compact => field ??= new(new System.Text.Json.JsonSerializerOptions(Default.Options) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}

/// <summary>The realtime dialect's error writer, also for 401/403/503 raised outside the handlers.</summary>
public sealed class StreamErrors : IDialectErrors
{
    public static readonly StreamErrors Instance = new();

    public Task WriteAsync(HttpContext context, int statusCode, string message)
        => JsonResponse.WriteAsync(context, statusCode, new StreamErrorBody(CodeOf(statusCode), message, statusCode), StreamJsonContext.Compact);

    /// <summary>Stream's error codes: 4 input, 5 authentication, 17 not allowed, 16 does not exist, 9 rate limit, -1 internal.</summary>
    private static int CodeOf(int status) => status switch
    {
        400 or 413 or 415 => 4,
        401 => 5,
        403 => 17,
        404 or 405 => 16,
        429 => 9,
        _ => -1,
    };
}

/// <summary>A refusal before a stream opens, in Stream's error format.</summary>
public sealed class StreamError(int statusCode, string message) : IResult, IEndpointMetadataProvider
{
    public int StatusCode { get; } = statusCode;
    public string Message { get; } = message;

    public static StreamError BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public Task ExecuteAsync(HttpContext httpContext) => StreamErrors.Instance.WriteAsync(httpContext, StatusCode, Message);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        foreach (var status in new[] { 400, 401, 503 })
        {
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(StreamErrorBody), ["application/json"]));
        }
    }
}
