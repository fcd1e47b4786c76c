using System.Text.Json.Serialization;

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
public sealed partial class StreamJsonContext : JsonSerializerContext;

/// <summary>The realtime streams, in Stream's shape: errors as Stream writes them, with its error codes.</summary>
public sealed class StreamDialect : Dialect, IDialect<StreamDialect>
{
    public static StreamDialect Instance { get; } = new();

    private readonly StreamJsonContext _json = new(Options(StreamJsonContext.Default));

    public override string Name => "realtime";

    public override Type ErrorBody => typeof(StreamErrorBody);

    public override JsonSerializerContext JsonFor(HttpContext context) => _json;

    public override Task WriteErrorAsync(HttpContext context, int statusCode, string message)
        => WriteAsync(context, statusCode, new StreamErrorBody(CodeOf(statusCode), message, statusCode));

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
