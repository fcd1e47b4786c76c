using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Presence.Gateway.Hosting;

/// <summary>Writes a dialect's JSON body with its source-generated contract: one way for every dialect.</summary>
public static class JsonResponse
{
    /// <summary>A buffer kept by a thread between responses only up to this size.</summary>
    private const int KeptBufferBytes = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>
    /// Serializes synchronously through the contract's generated fast path into a per-thread buffer, then copies the
    /// bytes into the response with their Content-Length: no chunked framing, and none of the serializer's
    /// per-call state that writing to the response asynchronously allocates. Kestrel flushes when the request ends.
    /// </summary>
    public static Task WriteAsync<T>(HttpContext context, int statusCode, T value, JsonSerializerContext contract)
    {
        var typeInfo = (JsonTypeInfo<T>)contract.GetTypeInfo(typeof(T))!;
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer;
        if (writer is null || writer.Options.Encoder != typeInfo.Options.Encoder || writer.Options.Indented != typeInfo.Options.WriteIndented)
        {
            // The writer's options, not the serializer's, decide the escaping: the contract's own (some relax it).
            t_writer = writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = typeInfo.Options.Encoder, Indented = typeInfo.Options.WriteIndented });
        }
        else
        {
            writer.Reset(buffer);
        }
        JsonSerializer.Serialize(writer, value, typeInfo);

        var response = context.Response;
        response.StatusCode = statusCode;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan);
        if (buffer.Capacity > KeptBufferBytes)
        {
            (t_buffer, t_writer) = (null, null);
        }
        return Task.CompletedTask;
    }
}
