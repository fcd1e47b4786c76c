using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Presence.Gateway.Errors;
using Presence.Gateway.Hosting;

namespace Presence.Gateway.Pnut;

/// <summary>Writes pnut envelopes: compact, or indented for <c>X-Pretty-Json: 1</c>, with <c>meta.updated_presence</c> when asked.</summary>
public static class PnutWriter
{
    private static readonly object UpdatedPresenceKey = new();

    public static void SetUpdatedPresence(HttpContext context, bool updated) => context.Items[UpdatedPresenceKey] = updated;

    public static bool? UpdatedPresence(HttpContext context)
        => context.Items.TryGetValue(UpdatedPresenceKey, out var value) ? (bool?)value : null;

    public static Task WriteAsync<T>(HttpContext context, int statusCode, T value)
        => JsonResponse.WriteAsync(context, statusCode, value, context.Request.Headers["X-Pretty-Json"] == "1" ? PnutJsonContext.Pretty : PnutJsonContext.Compact);
}

/// <summary>A 200 with data in pnut's envelope.</summary>
public sealed class PnutOk<T>(T data) : IResult, IEndpointMetadataProvider
{
    public T Data { get; } = data;
    public string? MinId { get; init; }
    public bool? More { get; init; }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var meta = new PnutMeta(StatusCodes.Status200OK) { UpdatedPresence = PnutWriter.UpdatedPresence(httpContext), MinId = MinId, More = More };
        return PnutWriter.WriteAsync(httpContext, StatusCodes.Status200OK, new PnutEnvelope<T>(meta, Data));
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(PnutEnvelope<T>), ["application/json"]));
}

/// <summary>A failure in pnut's envelope: <c>{"meta":{"code":4xx,"error_message":"..."}}</c>.</summary>
public sealed class PnutError(int statusCode, string message) : IResult, IEndpointMetadataProvider
{
    public int StatusCode { get; } = statusCode;
    public string Message { get; } = message;

    public static PnutError BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);
    public static PnutError Forbidden(string message) => new(StatusCodes.Status403Forbidden, message);

    public Task ExecuteAsync(HttpContext httpContext) => PnutErrors.Instance.WriteAsync(httpContext, StatusCode, Message);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        foreach (var status in new[] { 400, 401, 403, 404, 413 })
        {
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(PnutErrorEnvelope), ["application/json"]));
        }
    }
}

/// <summary>The pnut dialect's error writer, also used for 401/403/404/405/503 raised outside the handlers.</summary>
public sealed class PnutErrors : IDialectErrors
{
    public static readonly PnutErrors Instance = new();

    public Task WriteAsync(HttpContext context, int statusCode, string message)
    {
        var meta = new PnutMeta(statusCode) { ErrorMessage = message, UpdatedPresence = PnutWriter.UpdatedPresence(context) };
        return PnutWriter.WriteAsync(context, statusCode, new PnutErrorEnvelope(meta));
    }
}
