using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;

namespace Presence.Gateway.Agora;

/// <summary>
/// The Agora Chat dialect: results as <c>{"result": ...}</c>, errors as
/// <c>{"error","exception","timestamp","duration","error_description"}</c> with the error codes and exception names
/// Agora's own server uses for each status. Every route acts for a user of an app (403 otherwise) and counts against
/// the app's call limit (429).
/// </summary>
public sealed class AgoraDialect : Dialect, IDialect<AgoraDialect>
{
    public static AgoraDialect Instance { get; } = new();

    private readonly AgoraJsonContext _json = new(Options(AgoraJsonContext.Default));

    public override string Name => "agora";

    public override IReadOnlyList<int> Statuses => [.. base.Statuses, StatusCodes.Status403Forbidden, StatusCodes.Status429TooManyRequests];

    public override Type ErrorBody => typeof(AgoraError);

    public override JsonSerializerContext JsonFor(HttpContext context) => _json;

    public override Task WriteErrorAsync(HttpContext context, int statusCode, string message)
    {
        var (error, exception) = statusCode switch
        {
            400 or 413 or 415 => ("illegal_argument", "java.lang.IllegalArgumentException"),
            401 => ("unauthorized", "EasemobUnauthorizedException"),
            403 => ("forbidden_op", "EasemobForbiddenOpException"),
            404 or 405 => ("service_resource_not_found", "EasemobResourceNotFoundException"),
            429 => ("reach_limit", "EasemobTooManyRequestsException"),
            503 => ("service_unavailable", "EasemobServiceUnavailableException"),
            _ => ("internal_server_error", "EasemobInternalServerErrorException"),
        };
        var time = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return WriteAsync(context, statusCode, new AgoraError(error, exception, time.ToUnixTimeMilliseconds(), 0, message));
    }
}

/// <summary>A 200 in Agora's envelope.</summary>
public sealed class AgoraOk<T>(T result) : IResult, IEndpointMetadataProvider
{
    public Task ExecuteAsync(HttpContext httpContext)
        => AgoraDialect.Instance.WriteAsync(httpContext, StatusCodes.Status200OK, new AgoraResult<T>(result));

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(AgoraResult<T>), ["application/json"]));
}
