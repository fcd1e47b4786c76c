using System.Net;
using System.Text.Json;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class OpenApiTests(GatewayFactory factory)
{
    [Fact]
    public async Task The_openapi_document_describes_every_dialects_routes_with_their_error_bodies()
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("paths");
        foreach (var path in new[]
        {
            "/v1/presence", "/v1/users/{user_id}/presence", "/v0/presence", "/v1/channels/{channel_id}/subscribers",
            "/{org_name}/{app_name}/users/{uid}/presence/{resource}/{status}", "/{org_name}/{app_name}/users/{uid}/presence/sublist",
            "/api/v1/users.presence",
        })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is missing from the document");
        }
        var put = paths.GetProperty("/v1/users/{user_id}/presence").GetProperty("put").GetProperty("responses");
        Assert.True(put.TryGetProperty("200", out _));
        Assert.True(put.TryGetProperty("400", out _));
        Assert.True(put.TryGetProperty("401", out _));
    }
}
