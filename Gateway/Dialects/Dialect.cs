using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Presence.Gateway.Dialects;

/// <summary>
/// One of the presence APIs this gateway speaks, described once: its name, where its routes live, how it writes JSON
/// and errors, and the failures any of its routes can answer with. A dialect is then a folder of routes and wire
/// records on this kit: <see cref="Failure{TDialect}"/> for refusals, <see cref="RequestBody"/> for bodies,
/// <see cref="Targets"/> for the user or channel a call is about, and <see cref="DialectRoutes.MapDialect{TDialect}"/>
/// for its route groups. Every failure a client can meet (bad input, 401, 403, 404, 413, 415, 429, 503, even an
/// unmatched route) leaves in the format of the dialect the request addressed.
/// </summary>
public abstract class Dialect
{
    /// <summary>Escaping of every dialect's JSON: statuses and names are user text, written as UTF-8 (as the services this gateway stands in for do), not as \u escapes.</summary>
    public static JavaScriptEncoder Encoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>The dialect's name, its OpenAPI tag.</summary>
    public abstract string Name { get; }

    /// <summary>Path prefixes answered in this dialect's format when no route matched (404, 405).</summary>
    public virtual IReadOnlyList<PathString> Prefixes => [];

    /// <summary>
    /// The failures any route of the dialect can answer with: bad input (400), no or a bad token (401) and a cluster
    /// that cannot answer right now (503). A dialect adds its own (Agora's rate limit, 429); a route adds what only
    /// it can meet (<see cref="DialectRoutes.Refuses{TDialect}"/>, <see cref="DialectRoutes.ReadsBody{TDialect}"/>).
    /// </summary>
    public virtual IReadOnlyList<int> Statuses => [StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable];

    /// <summary>The type of the dialect's error body, as OpenAPI describes it.</summary>
    public abstract Type ErrorBody { get; }

    /// <summary>The JSON contract a response of this request is written with (source generated; see <see cref="Options"/>).</summary>
    public abstract JsonSerializerContext JsonFor(HttpContext context);

    /// <summary>Writes an error in the dialect's own format.</summary>
    public abstract Task WriteErrorAsync(HttpContext context, int statusCode, string message);

    /// <summary>Writes a body of the dialect with its contract.</summary>
    public Task WriteAsync<T>(HttpContext context, int statusCode, T body) => JsonResponse.WriteAsync(context, statusCode, body, JsonFor(context));

    /// <summary>A generated contract's options with the kit's escaping (and indented when asked): what a dialect's contract is made with.</summary>
    protected static JsonSerializerOptions Options(JsonSerializerContext generated, bool indented = false)
        => new(generated.Options) { Encoder = Encoder, WriteIndented = indented };
}

/// <summary>A dialect as a type, with its one instance: results, readers and resolvers are generic over it.</summary>
public interface IDialect<TSelf> where TSelf : Dialect, IDialect<TSelf>
{
    static abstract TSelf Instance { get; }
}

/// <summary>Endpoint metadata naming the dialect of a route group.</summary>
public sealed record DialectMetadata(Dialect Dialect);

/// <summary>The dialect of a request: its endpoint's, else the one whose path prefix it is under, else <see cref="PlainDialect"/>.</summary>
public sealed class DialectRegistry
{
    private readonly List<(PathString Prefix, Dialect Dialect)> _prefixes = [];

    /// <summary>Registers the dialect's prefixes, once however many groups it maps.</summary>
    public void Add(Dialect dialect)
    {
        lock (_prefixes)
        {
            if (!_prefixes.Any(p => ReferenceEquals(p.Dialect, dialect)))
            {
                _prefixes.AddRange(dialect.Prefixes.Select(prefix => (prefix, dialect)));
            }
        }
    }

    /// <summary>A prefix outside the dialects (the dashboard's) answered in <paramref name="dialect"/>'s format.</summary>
    public void Add(PathString prefix, Dialect dialect)
    {
        lock (_prefixes)
        {
            _prefixes.Add((prefix, dialect));
        }
    }

    public Dialect For(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<DialectMetadata>() is { } metadata)
        {
            return metadata.Dialect;
        }
        foreach (var (prefix, dialect) in _prefixes)
        {
            if (context.Request.Path.StartsWithSegments(prefix))
            {
                return dialect;
            }
        }
        return PlainDialect.Instance;
    }
}

/// <summary>Errors outside every dialect: <c>{"error": "..."}</c>.</summary>
public sealed class PlainDialect : Dialect, IDialect<PlainDialect>
{
    public static PlainDialect Instance { get; } = new();

    private readonly PlainJsonContext _json = new(Options(PlainJsonContext.Default));

    public override string Name => "plain";

    public override Type ErrorBody => typeof(PlainError);

    public override JsonSerializerContext JsonFor(HttpContext context) => _json;

    public override Task WriteErrorAsync(HttpContext context, int statusCode, string message)
        => WriteAsync(context, statusCode, new PlainError(message));
}

public sealed record PlainError(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(PlainError))]
internal sealed partial class PlainJsonContext : JsonSerializerContext;
