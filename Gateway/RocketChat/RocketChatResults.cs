using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Presence.Gateway.Errors;
using Presence.Gateway.Hosting;

namespace Presence.Gateway.RocketChat;

/// <summary>A 200 with one of Rocket.Chat's response bodies.</summary>
public sealed class RocketChatOk<T>(T body) : IResult, IEndpointMetadataProvider
{
    public Task ExecuteAsync(HttpContext httpContext)
        => JsonResponse.WriteAsync(httpContext, StatusCodes.Status200OK, body, RocketChatJsonContext.Web);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
}

/// <summary>A failure as Rocket.Chat answers it: <c>{"success":false,"error":"..."}</c>.</summary>
public sealed class RocketChatFailure(int statusCode, string message) : IResult, IEndpointMetadataProvider
{
    public static RocketChatFailure BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public Task ExecuteAsync(HttpContext httpContext) => RocketChatErrors.Instance.WriteAsync(httpContext, statusCode, message);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        foreach (var status in new[] { 400, 401, 403 })
        {
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(RocketChatError), ["application/json"]));
        }
    }
}

public sealed class RocketChatErrors : IDialectErrors
{
    public static readonly RocketChatErrors Instance = new();

    public Task WriteAsync(HttpContext context, int statusCode, string message)
    {
        // Rocket.Chat says this for every authentication failure; the reason stays in the gateway's log.
        var error = statusCode == StatusCodes.Status401Unauthorized ? "You must be logged in to do this." : message;
        return JsonResponse.WriteAsync(context, statusCode, new RocketChatError(error), RocketChatJsonContext.Web);
    }
}
