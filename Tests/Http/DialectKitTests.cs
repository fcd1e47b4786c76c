using System.Net;
using System.Text;
using System.Text.Json;
using Presence.Gateway.Dialects;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>
/// The dialect kit: the same failure has the same message in every dialect, each in its own format, and the OpenAPI
/// document lists for every route the failures it can answer with.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class DialectKitTests(GatewayFactory factory)
{
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>One failing call in each dialect, with how that dialect carries the message.</summary>
    private sealed record Call(string Dialect, HttpMethod Method, string Path, Func<JsonElement, string> Message, string? UserId = null);

    private static string Pnut(JsonElement json) => json.GetProperty("meta").GetProperty("error_message").GetString()!;

    private static string Agora(JsonElement json) => json.GetProperty("error_description").GetString()!;

    private static string RocketChat(JsonElement json)
    {
        Assert.False(json.GetProperty("success").GetBoolean());
        return json.GetProperty("error").GetString()!;
    }

    /// <summary>A write of <paramref name="user"/>'s own presence in each dialect that takes a body.</summary>
    private static Call[] Writes(string app, string user) =>
    [
        new("pnut", HttpMethod.Put, $"/v1/users/{user}/presence", Pnut),
        new("agora", HttpMethod.Post, $"/{app}/users/{user}/presence/web_1/busy", Agora),
        new("rocket.chat", HttpMethod.Post, "/api/v1/users.setStatus", RocketChat, UserId: user),
    ];

    private async Task<(HttpStatusCode Status, string Message)> Send(Call call, string app, string caller, HttpContent? body)
    {
        using var client = factory.ClientFor(caller, app);
        client.DefaultRequestHeaders.Add("X-User-Id", caller);
        using var request = new HttpRequestMessage(call.Method, call.Path) { Content = body };
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, call.Message(JsonDocument.Parse(text).RootElement));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string App() => $"kit{Guid.NewGuid():N}"[..12] + "/app";

    [Fact]
    public async Task A_body_too_large_malformed_or_of_another_type_is_refused_with_the_same_message_everywhere()
    {
        var app = App();
        foreach (var call in Writes(app, "ann"))
        {
            var large = await Send(call, app, "ann", Json($$"""{"ext":"{{new string('x', MaxBodyBytes)}}"}"""));
            Assert.Equal((HttpStatusCode.RequestEntityTooLarge, RequestBody.TooLarge(MaxBodyBytes)), large);

            var malformed = await Send(call, app, "ann", Json("""{"status": """));
            Assert.Equal((HttpStatusCode.BadRequest, RequestBody.Malformed), malformed);

            var loneSurrogate = await Send(call, app, "ann", Json("""{"status":"\uD800"}"""));
            Assert.Equal((HttpStatusCode.BadRequest, RequestBody.Malformed), loneSurrogate);

            var deep = await Send(call, app, "ann", Json(new string('[', 20) + new string(']', 20)));
            Assert.Equal((HttpStatusCode.BadRequest, RequestBody.Malformed), deep);

            var xml = await Send(call, app, "ann", new StringContent("<status/>", Encoding.UTF8, "application/xml"));
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, xml.Status);
            Assert.StartsWith("unsupported content type 'application/xml': send application/json", xml.Message);
        }
    }

    [Fact]
    public async Task Acting_for_another_user_or_naming_an_invalid_one_is_refused_with_the_same_message_everywhere()
    {
        var app = App();
        foreach (var call in Writes(app, "bob"))
        {
            var body = call.Dialect == "rocket.chat" ? Json("""{"status":"away","userId":"bob"}""") : Json("""{"ext":"","presence":"online"}""");
            Assert.Equal((HttpStatusCode.Forbidden, Targets.NotYours), await Send(call, app, "ann", body));
        }
        var invalid = "bad%20id";
        foreach (var call in new Call[]
        {
            new("pnut", HttpMethod.Get, $"/v1/users/{invalid}/presence", Pnut),
            new("agora", HttpMethod.Get, $"/{app}/users/{invalid}/presence/sublist?pageNum=1&pageSize=10", Agora),
            new("rocket.chat", HttpMethod.Get, $"/api/v1/users.getPresence?userId={invalid}", RocketChat),
        })
        {
            Assert.Equal((HttpStatusCode.BadRequest, Targets.InvalidUserId), await Send(call, app, "ann", null));
        }
    }

    [Fact]
    public async Task Me_names_the_caller_in_every_dialect()
    {
        var app = App();
        using var ann = factory.ClientFor("ann", app);
        ann.DefaultRequestHeaders.Add("X-User-Id", "ann");
        var agora = await ann.PostAsync($"/{app}/users/me/presence/web_1/busy", Json("""{"ext":""}"""));
        Assert.Equal(HttpStatusCode.OK, agora.StatusCode);
        var pnut = await (await ann.GetAsync("/v1/users/me/presence")).AssertOk();
        Assert.Equal("ann", pnut.GetProperty("data").GetProperty("id").GetString());
        Assert.Equal("busy", pnut.GetProperty("data").GetProperty("presence").GetString());
        var rocket = JsonDocument.Parse(await ann.GetStringAsync("/api/v1/users.getStatus?userId=me")).RootElement;
        Assert.Equal("ann", rocket.GetProperty("_id").GetString());
        Assert.Equal("busy", rocket.GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_openapi_document_lists_for_every_route_the_failures_it_can_answer_with_in_its_dialects_format()
    {
        using var client = factory.CreateClient();
        var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json")).RootElement;
        var checkedRoutes = 0;
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (!operation.Value.TryGetProperty("tags", out var tags) || tags[0].GetString() is not ({ } tag and ("pnut" or "agora" or "rocket.chat" or "realtime" or "stream-chat")))
                {
                    continue;
                }
                var where = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                var responses = operation.Value.GetProperty("responses");
                var statuses = responses.EnumerateObject().Select(r => r.Name).ToHashSet();
                foreach (var status in new[] { "400", "401", "503" })
                {
                    Assert.True(statuses.Contains(status), $"{where} does not list {status}");
                }
                Assert.DoesNotContain("500", statuses);
                if (tag == "agora")
                {
                    Assert.Contains("403", statuses);
                    Assert.Contains("429", statuses);
                }
                if (tag == "stream-chat")
                {
                    Assert.Contains("403", statuses); // a user token acting for another user
                }
                var readsBody = operation.Name is "put" or "post" or "patch" or "delete" && tag != "realtime"
                    && !(tag == "pnut" && path.Name.EndsWith("/subscribe", StringComparison.Ordinal));
                Assert.True(readsBody == statuses.Contains("413"), $"{where}: 413 listed {statuses.Contains("413")}, reads a body {readsBody}");
                Assert.True(readsBody == statuses.Contains("415"), $"{where}: 415 listed {statuses.Contains("415")}, reads a body {readsBody}");
                var errorSchema = responses.GetProperty("401").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString();
                var expected = tag switch { "pnut" => "PnutErrorEnvelope", "agora" => "AgoraError", "rocket.chat" => "RocketChatError", _ => "StreamErrorBody" };
                Assert.True(errorSchema!.EndsWith("/" + expected, StringComparison.Ordinal), $"{where}: 401 body is {errorSchema}, not {expected}");
                checkedRoutes++;
            }
        }
        Assert.True(checkedRoutes >= 20, $"only {checkedRoutes} routes of the dialects in the document");
    }
}
