using Microsoft.Extensions.Primitives;

namespace Presence.Gateway.Dialects;

/// <summary>A call's query parameters, read without building the parsed query (a per-request object) when it has no query string.</summary>
public static class QueryValues
{
    /// <summary>The values of <paramref name="name"/> in the query; none without a query string.</summary>
    public static StringValues QueryValue(this HttpRequest request, string name)
        => request.QueryString.HasValue ? request.Query[name] : StringValues.Empty;
}
