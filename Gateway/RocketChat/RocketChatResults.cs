using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;

namespace Presence.Gateway.RocketChat;

/// <summary>The Rocket.Chat dialect under <c>/api/v1</c>: bodies with <c>"success": true</c>, failures as <c>{"success":false,"error":"..."}</c>.</summary>
public sealed class RocketChatDialect : Dialect, IDialect<RocketChatDialect>
{
    public static RocketChatDialect Instance { get; } = new();

    private readonly RocketChatJsonContext _json = new(Options(RocketChatJsonContext.Default));

    public override string Name => "rocket.chat";

    public override IReadOnlyList<PathString> Prefixes => ["/api/v1"];

    public override Type ErrorBody => typeof(RocketChatError);

    public override JsonSerializerContext JsonFor(HttpContext context) => _json;

    public override Task WriteErrorAsync(HttpContext context, int statusCode, string message)
    {
        // Rocket.Chat says this for every authentication failure; the reason stays in the gateway's log.
        var error = statusCode == StatusCodes.Status401Unauthorized ? "You must be logged in to do this." : message;
        return WriteAsync(context, statusCode, new RocketChatError(error));
    }
}

/// <summary>A 200 with one of Rocket.Chat's response bodies.</summary>
public sealed class RocketChatOk<T>(T body) : IResult, IEndpointMetadataProvider
{
    public Task ExecuteAsync(HttpContext httpContext) => RocketChatDialect.Instance.WriteAsync(httpContext, StatusCodes.Status200OK, body);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
}
