using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Presence.Gateway.Dialects;

namespace Presence.Gateway.Pnut;

/// <summary>
/// The pnut.io dialect: envelopes, compact or indented for <c>X-Pretty-Json: 1</c>, with <c>meta.updated_presence</c>
/// when the call carried <c>update_presence</c>; errors as <c>{"meta":{"code":4xx,"error_message":"..."}}</c>.
/// </summary>
public sealed class PnutDialect : Dialect, IDialect<PnutDialect>
{
    public static PnutDialect Instance { get; } = new();

    private readonly PnutJsonContext _compact = new(Options(PnutJsonContext.Default));
    private readonly PnutJsonContext _pretty = new(Options(PnutJsonContext.Default, indented: true));

    private static readonly object UpdatedPresenceKey = new();

    public override string Name => "pnut";

    public override IReadOnlyList<PathString> Prefixes => ["/v1", "/v0"];

    public override Type ErrorBody => typeof(PnutErrorEnvelope);

    public override JsonSerializerContext JsonFor(HttpContext context) => context.Request.Headers["X-Pretty-Json"] == "1" ? _pretty : _compact;

    public override Task WriteErrorAsync(HttpContext context, int statusCode, string message)
    {
        var meta = new PnutMeta(statusCode) { ErrorMessage = message, UpdatedPresence = UpdatedPresence(context) };
        return WriteAsync(context, statusCode, new PnutErrorEnvelope(meta));
    }

    public static void SetUpdatedPresence(HttpContext context, bool updated) => context.Items[UpdatedPresenceKey] = updated;

    public static bool? UpdatedPresence(HttpContext context)
        => context.Items.TryGetValue(UpdatedPresenceKey, out var value) ? (bool?)value : null;
}

/// <summary>A 200 with data in pnut's envelope.</summary>
public sealed class PnutOk<T>(T data) : IResult, IEndpointMetadataProvider
{
    public T Data { get; } = data;
    public string? MinId { get; init; }
    public bool? More { get; init; }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var meta = new PnutMeta(StatusCodes.Status200OK) { UpdatedPresence = PnutDialect.UpdatedPresence(httpContext), MinId = MinId, More = More };
        return PnutDialect.Instance.WriteAsync(httpContext, StatusCodes.Status200OK, new PnutEnvelope<T>(meta, Data));
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
        => builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(PnutEnvelope<T>), ["application/json"]));
}
