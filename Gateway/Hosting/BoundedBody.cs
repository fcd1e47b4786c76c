using System.Buffers;

namespace Presence.Gateway.Hosting;

/// <summary>Reads a request body whole, up to a cap: a larger body is refused (413) without being read further.</summary>
public static class BoundedBody
{
    /// <summary>
    /// A body parsed once per request under <paramref name="key"/>: a call retried during a failover (see
    /// <see cref="TransientRetry"/>) gets the first result again, since the body itself can be read only once.
    /// </summary>
    public static async Task<T> ParseOnceAsync<T>(HttpRequest request, object key, int maxBytes, CancellationToken cancellationToken,
        Func<HttpRequest, int, CancellationToken, Task<T>> parse)
    {
        var items = request.HttpContext.Items;
        if (items.TryGetValue(key, out var cached))
        {
            return (T)cached!;
        }
        var result = await parse(request, maxBytes, cancellationToken);
        items[key] = result;
        return result;
    }

    /// <summary>The body, or null when it is longer than <paramref name="maxBytes"/>; EndOfStreamException when cut short.</summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }
        if (request.ContentLength is { } length)
        {
            // The common case: a small body of announced length, read straight into an array of that size.
            var exact = new byte[length];
            await request.Body.ReadExactlyAsync(exact, cancellationToken);
            return exact;
        }
        var chunk = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            using var buffer = new MemoryStream();
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return null;
                }
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
