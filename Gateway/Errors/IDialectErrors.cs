namespace Presence.Gateway.Errors;

/// <summary>
/// Writes an error in one dialect's own format. Every failure a client can meet (bad input, 401, 403, 404, 413,
/// 429, 503, even an unmatched route) goes through the writer of the dialect the request addressed.
/// </summary>
public interface IDialectErrors
{
    Task WriteAsync(HttpContext context, int statusCode, string message);
}

/// <summary>Endpoint metadata naming the dialect of a route group.</summary>
public sealed record DialectMetadata(IDialectErrors Errors);

/// <summary>Path prefixes of each dialect, for failures before or without an endpoint (401, 404, 405).</summary>
public sealed class DialectRegistry
{
    private readonly List<(PathString Prefix, IDialectErrors Errors)> _prefixes = [];

    public void Add(PathString prefix, IDialectErrors errors) => _prefixes.Add((prefix, errors));

    public IDialectErrors For(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<DialectMetadata>() is { } dialect)
        {
            return dialect.Errors;
        }
        foreach (var (prefix, errors) in _prefixes)
        {
            if (context.Request.Path.StartsWithSegments(prefix))
            {
                return errors;
            }
        }
        return PlainErrors.Instance;
    }
}

/// <summary>Errors outside every dialect: <c>{"error": "..."}</c>.</summary>
public sealed class PlainErrors : IDialectErrors
{
    public static readonly PlainErrors Instance = new();

    public Task WriteAsync(HttpContext context, int statusCode, string message)
        => Hosting.JsonResponse.WriteAsync(context, statusCode, new PlainError(message), GatewayJsonContext.Default);
}

public sealed record PlainError(string Error);
