using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Presence.Gateway.Dialects;

/// <summary>Writes a dialect's JSON body with its source-generated contract: one way for every dialect.</summary>
public static class JsonResponse
{
    /// <summary>A buffer kept by a thread between responses only up to this size.</summary>
    private const int KeptBufferBytes = 64 * 1024;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<JsonSerializerContext, JsonSerializerContext> s_twins = new();

    /// <summary>
    /// The contract without its encoder: the serializer runs a context's generated fast path only when its options
    /// match the generated ones, and an encoder (the dialects relax escaping) does not; the writer applies it instead.
    /// One twin per contract, made once.
    /// </summary>
    private static JsonSerializerContext FastTwin(JsonSerializerContext contract) => contract.Options.Encoder is null
        ? contract
        : s_twins.GetOrAdd(contract, c => (JsonSerializerContext)Activator.CreateInstance(c.GetType(), new JsonSerializerOptions(c.Options) { Encoder = null })!);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>
    /// Serializes synchronously through the contract's generated fast path (see <see cref="FastTwin"/>) into a per-thread buffer, then copies the
    /// bytes into the response with their Content-Length: no chunked framing, and none of the serializer's
    /// per-call state that writing to the response asynchronously allocates. Kestrel flushes when the request ends.
    /// </summary>
    public static Task WriteAsync<T>(HttpContext context, int statusCode, T value, JsonSerializerContext contract)
    {
        var options = contract.Options;
        var typeInfo = (JsonTypeInfo<T>)FastTwin(contract).GetTypeInfo(typeof(T))!;
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer;
        if (writer is null || writer.Options.Encoder != options.Encoder || writer.Options.Indented != options.WriteIndented)
        {
            // The writer's options, not the serializer's, decide escaping and indentation: the contract's own.
            t_writer = writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = options.Encoder, Indented = options.WriteIndented });
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
