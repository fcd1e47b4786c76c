using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Presence.Gateway.Hosting;

/// <summary>Writes a dialect's JSON body with its source-generated contract: one way for every dialect.</summary>
public static class JsonResponse
{
    public static Task WriteAsync<T>(HttpContext context, int statusCode, T value, JsonSerializerContext contract)
    {
        var typeInfo = (JsonTypeInfo<T>)contract.GetTypeInfo(typeof(T))!;
        context.Response.StatusCode = statusCode;
        return context.Response.WriteAsJsonAsync(value, typeInfo, "application/json; charset=utf-8", context.RequestAborted);
    }
}
