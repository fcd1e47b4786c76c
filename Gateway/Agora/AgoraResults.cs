using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Presence.Gateway.Errors;
using Presence.Gateway.Hosting;

namespace Presence.Gateway.Agora;

/// <summary>A 200 in Agora's envelope.</summary>
public sealed class AgoraOk<T>(T result) : IResult, IEndpointMetadataProvider
{
    public Task ExecuteAsync(HttpContext httpContext)
        => JsonResponse.WriteAsync(httpContext, StatusCodes.Status200OK, new AgoraResult<T>(result), AgoraJsonContext.Web);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(AgoraResult<T>), ["application/json"]));
}

/// <summary>A failure in Agora's error format.</summary>
public sealed class AgoraFailure(int statusCode, string message) : IResult, IEndpointMetadataProvider
{
    public static AgoraFailure BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public Task ExecuteAsync(HttpContext httpContext) => AgoraErrors.Instance.WriteAsync(httpContext, statusCode, message);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        foreach (var status in new[] { 400, 401, 403, 413, 429 })
        {
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(AgoraError), ["application/json"]));
        }
    }
}

/// <summary>
/// Agora's error body: <c>{"error","exception","timestamp","duration","error_description"}</c>, with the error
/// codes and exception names Agora's own server uses for each status.
/// </summary>
public sealed class AgoraErrors : IDialectErrors
{
    public static readonly AgoraErrors Instance = new();

    public Task WriteAsync(HttpContext context, int statusCode, string message)
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
        return JsonResponse.WriteAsync(context, statusCode, new AgoraError(error, exception, time.ToUnixTimeMilliseconds(), 0, message), AgoraJsonContext.Web);
    }
}
