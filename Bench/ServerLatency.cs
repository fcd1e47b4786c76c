using System.Globalization;
using System.Text.RegularExpressions;

namespace Presence.Bench;

/// <summary>
/// How long requests took inside the gateway, from its own <c>http.server.request.duration</c> histogram (scraped from
/// <c>/metrics</c> before and after a run): the share of a run's requests of one method that took over 5 ms and over
/// 10 ms from the moment Kestrel handed them to the app to the end of the response. Set against wrk's percentiles, it
/// tells the service's own tail from the time a request spent queued in the box (its socket, the thread pool, wrk's
/// own threads waiting for a core).
/// </summary>
public sealed partial class ServerLatency
{
    private readonly Dictionary<string, long> _buckets;

    private ServerLatency(Dictionary<string, long> buckets) => _buckets = buckets;

    /// <summary>The gateway's cumulative buckets for <paramref name="method"/> requests answered 200, summed over routes.</summary>
    public static async Task<ServerLatency> Scrape(Uri server, string method)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync(new Uri(server, "/metrics"));
        var buckets = new Dictionary<string, long>();
        foreach (Match line in Bucket().Matches(text))
        {
            if (line.Groups["labels"].Value.Contains($"http_request_method=\"{method}\"", StringComparison.Ordinal)
                && line.Groups["labels"].Value.Contains("http_response_status_code=\"200\"", StringComparison.Ordinal))
            {
                var le = line.Groups["le"].Value;
                buckets[le] = buckets.GetValueOrDefault(le) + long.Parse(line.Groups["count"].Value, CultureInfo.InvariantCulture);
            }
        }
        return new ServerLatency(buckets);
    }

    /// <summary>"over 5 ms x %, over 10 ms y %" for the requests counted between <paramref name="before"/> and this scrape.</summary>
    public string Since(ServerLatency before)
    {
        long Count(string le) => _buckets.GetValueOrDefault(le) - before._buckets.GetValueOrDefault(le);
        var all = Count("+Inf");
        if (all <= 0)
        {
            return "server: no requests counted";
        }
        string Over(string le) => (100.0 * (all - Count(le)) / all).ToString("F2", CultureInfo.InvariantCulture);
        return $"in server > 5 ms {Over("0.005")} %, > 10 ms {Over("0.01")} %";
    }

    [GeneratedRegex("""^http_server_request_duration_seconds_bucket\{(?<labels>[^\n]*)le="(?<le>[^"]+)"\} (?<count>\d+)""", RegexOptions.Multiline)]
    private static partial Regex Bucket();
}
