using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;

namespace Presence.Gateway.Dialects;

/// <summary>
/// A refusal in <typeparamref name="TDialect"/>'s error format. As a handler's result type it documents, in OpenAPI,
/// the statuses any route of the dialect can answer with (<see cref="Dialect.Statuses"/>).
/// </summary>
public sealed class Failure<TDialect>(int statusCode, string message) : IResult, IEndpointMetadataProvider
    where TDialect : Dialect, IDialect<TDialect>
{
    public int StatusCode { get; } = statusCode;

    public string Message { get; } = message;

    public static Failure<TDialect> BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public static Failure<TDialect> Forbidden(string message) => new(StatusCodes.Status403Forbidden, message);

    public Task ExecuteAsync(HttpContext httpContext) => TDialect.Instance.WriteErrorAsync(httpContext, StatusCode, Message);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => DialectRoutes.Document(builder, TDialect.Instance, TDialect.Instance.Statuses);
}
