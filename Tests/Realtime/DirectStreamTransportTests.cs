using Microsoft.Extensions.Configuration;
using Presence.Gateway.Realtime.Direct;

namespace Presence.Tests.Realtime;

public sealed class DirectStreamTransportTests
{
    private static bool PlainHttp1(params (string Key, string Value)[] settings)
        => DirectStreamTransport.IsPlainHttp1(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Fact]
    public void Streams_leave_kestrel_only_while_every_configured_endpoint_is_plain_http_1()
    {
        Assert.True(PlainHttp1());
        Assert.True(PlainHttp1(("urls", "http://0.0.0.0:8080;http://[::]:8081")));
        Assert.True(PlainHttp1(("Kestrel:Endpoints:api:Url", "http://0.0.0.0:8080"), ("Kestrel:Endpoints:api:Protocols", "Http1AndHttp2")));

        Assert.False(PlainHttp1(("urls", "http://0.0.0.0:8080;https://0.0.0.0:8443")));
        Assert.False(PlainHttp1(("https_ports", "8443")));
        Assert.False(PlainHttp1(("Kestrel:Endpoints:secure:Url", "https://0.0.0.0:8443")));
        Assert.False(PlainHttp1(("Kestrel:Endpoints:h2:Url", "http://0.0.0.0:8080"), ("Kestrel:Endpoints:h2:Protocols", "Http2")));
        Assert.False(PlainHttp1(("Kestrel:EndpointDefaults:Protocols", "Http2")));
    }
}
