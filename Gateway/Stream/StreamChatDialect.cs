using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Presence.Gateway.Realtime;

namespace Presence.Gateway.Stream;

/// <summary>
/// Stream Chat's own protocol, as its published SDK speaks it: <c>/connect</c>, <c>/users</c> and <c>/channels</c> at
/// the root of the base URL, errors as <c>{"code","message","StatusCode","duration","more_info"}</c> with Stream's
/// error codes (the SDK throws <c>StreamChat error code {code}: {message}</c>).
/// </summary>
public sealed class StreamChatDialect : Dialect, IDialect<StreamChatDialect>
{
    public static StreamChatDialect Instance { get; } = new();

    public const string ConnectPath = "/connect";

    private readonly StreamChatJsonContext _json = new(Options(StreamChatJsonContext.Default));

    public override string Name => "stream-chat";

    public override IReadOnlyList<PathString> Prefixes => ["/users", "/channels", ConnectPath];

    public override IReadOnlyList<int> Statuses => [.. base.Statuses, StatusCodes.Status403Forbidden];

    public override Type ErrorBody => typeof(StreamErrorBody);

    public StreamChatJsonContext Json => _json;

    public override JsonSerializerContext JsonFor(HttpContext context) => _json;

    public override Task WriteErrorAsync(HttpContext context, int statusCode, string message)
        => WriteAsync(context, statusCode, new StreamErrorBody(CodeOf(statusCode), message, statusCode));

    /// <summary>Stream's error codes by status: 4 input, 5 authentication, 17 not allowed, 16 does not exist, 9 rate limit, -1 internal.</summary>
    public static int CodeOf(int status) => status switch
    {
        400 or 413 or 415 => StreamCodes.Input,
        401 => StreamCodes.AuthenticationFailed,
        403 => StreamCodes.NotAllowed,
        404 or 405 => StreamCodes.DoesNotExist,
        429 => StreamCodes.RateLimit,
        _ => -1,
    };

    /// <summary>The SDK's own JSON for the socket's frames, one byte array each.</summary>
    public byte[] Serialize<T>(T value)
        => JsonSerializer.SerializeToUtf8Bytes(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)_json.GetTypeInfo(typeof(T))!);
}

/// <summary>The error codes of Stream's API that this service answers with (the SDK's errors.ts).</summary>
public static class StreamCodes
{
    public const int AccessKey = 2;
    public const int Input = 4;
    public const int AuthenticationFailed = 5;
    public const int RateLimit = 9;
    public const int DoesNotExist = 16;
    public const int NotAllowed = 17;
    public const int TokenExpired = 40;
    public const int ConnectionIdNotFound = 46;
}

/// <summary>A refusal with a Stream error code of its own (a token's 40 or 43, an unknown connection's 46).</summary>
public sealed class StreamChatFailure(int statusCode, int code, string message) : IResult, IEndpointMetadataProvider
{
    public int StatusCode { get; } = statusCode;

    public int Code { get; } = code;

    public string Message { get; } = message;

    public static StreamChatFailure BadRequest(string message) => new(StatusCodes.Status400BadRequest, StreamCodes.Input, message);

    public static StreamChatFailure Forbidden(string message) => new(StatusCodes.Status403Forbidden, StreamCodes.NotAllowed, message);

    public static implicit operator StreamChatFailure(Failure<StreamChatDialect> failure)
        => new(failure.StatusCode, StreamChatDialect.CodeOf(failure.StatusCode), failure.Message);

    public Task ExecuteAsync(HttpContext httpContext)
        => StreamChatDialect.Instance.WriteAsync(httpContext, StatusCode, new StreamErrorBody(Code, Message, StatusCode));

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => DialectRoutes.Document(builder, StreamChatDialect.Instance, StreamChatDialect.Instance.Statuses);
}

/// <summary>A 200 with a body of the Stream Chat dialect.</summary>
public sealed class StreamChatOk<T>(T body) : IResult, IEndpointMetadataProvider
{
    public T Body { get; } = body;

    public Task ExecuteAsync(HttpContext httpContext) => StreamChatDialect.Instance.WriteAsync(httpContext, StatusCodes.Status200OK, Body);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
}
