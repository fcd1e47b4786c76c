using Microsoft.AspNetCore.Http.Metadata;

namespace Presence.Gateway.Dialects;

public static class DialectRoutes
{
    /// <summary>
    /// A route group of <typeparamref name="TDialect"/>: authenticated, tagged with the dialect's name, its failures
    /// written in its format (routing's and authentication's included), and its prefixes registered for requests no
    /// route matches.
    /// </summary>
    public static RouteGroupBuilder MapDialect<TDialect>(this IEndpointRouteBuilder app, string pattern)
        where TDialect : Dialect, IDialect<TDialect>
    {
        var dialect = TDialect.Instance;
        app.ServiceProvider.GetRequiredService<DialectRegistry>().Add(dialect);
        return app.MapGroup(pattern)
            .RequireAuthorization()
            .WithTags(dialect.Name)
            .WithMetadata(new DialectMetadata(dialect));
    }

    /// <summary>The route can also refuse with <paramref name="statuses"/> (a 403 of its own, say), as OpenAPI says.</summary>
    public static RouteHandlerBuilder Refuses<TDialect>(this RouteHandlerBuilder route, params int[] statuses)
        where TDialect : Dialect, IDialect<TDialect>
    {
        route.Add(endpoint => Document(endpoint, TDialect.Instance, statuses));
        return route;
    }

    /// <summary>The route reads a body (<see cref="RequestBody"/>): too large is 413, an unsupported media type 415.</summary>
    public static RouteHandlerBuilder ReadsBody<TDialect>(this RouteHandlerBuilder route)
        where TDialect : Dialect, IDialect<TDialect>
        => route.Refuses<TDialect>(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);

    /// <summary>Adds each status, once, with the dialect's error body.</summary>
    internal static void Document(EndpointBuilder endpoint, Dialect dialect, IEnumerable<int> statuses)
    {
        foreach (var status in statuses)
        {
            if (!endpoint.Metadata.Any(m => m is IProducesResponseTypeMetadata produces && produces.StatusCode == status))
            {
                endpoint.Metadata.Add(new ProducesResponseTypeMetadata(status, dialect.ErrorBody, ["application/json"]));
            }
        }
    }
}
