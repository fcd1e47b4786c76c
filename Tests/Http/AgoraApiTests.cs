using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class AgoraApiTests(GatewayFactory factory)
{
    private static string App() => $"org{Guid.NewGuid():N}"[..14] + "/app";

    private HttpClient Client(string app, string sub, string? role = null) => factory.ClientFor(sub, app, role);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Ok(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<string> Error(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        foreach (var field in new[] { "error", "exception", "error_description" })
        {
            Assert.Equal(JsonValueKind.String, json.GetProperty(field).ValueKind);
        }
        Assert.Equal(JsonValueKind.Number, json.GetProperty("timestamp").ValueKind);
        Assert.Equal(0, json.GetProperty("duration").GetInt32());
        return json.GetProperty("error_description").GetString()!;
    }

    [Fact]
    public async Task A_device_status_is_the_same_presence_the_pnut_dialect_reads()
    {
        var app = App();
        using var c1 = Client(app, "c1");
        var set = await Ok(await c1.PostAsync($"/{app}/users/c1/presence/android_123/busy", Json("""{"ext":"in a meeting"}""")));
        Assert.Equal("ok", set.GetProperty("result").GetString());
        Assert.Equal("busy", (await (await c1.GetAsync("/v1/users/c1/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());

        await Ok(await c1.PostAsync($"/{app}/users/c1/presence/android_123/0", Json("""{"ext":""}""")));
        Assert.Equal("offline", (await (await c1.GetAsync("/v1/users/c1/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());

        await Ok(await c1.PostAsync($"/{app}/users/c1/presence/ios_9/1", Json("""{"ext":"x"}""")));
        await (await c1.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", "coding")))).AssertOk();
        var result = (await Ok(await c1.PostAsync($"/{app}/users/c1/presence", Json("""{"usernames":["c1","nobody"]}""")))).GetProperty("result");
        var c1Status = result[0].GetProperty("status");
        Assert.Equal("0", c1Status.GetProperty("android_123").GetString()); // offline devices still appear
        Assert.Equal("1", c1Status.GetProperty("ios_9").GetString());
        Assert.Equal("coding", c1Status.GetProperty("api").GetString());
        Assert.Equal("x", result[0].GetProperty("ext").GetString());
        Assert.Equal(factory.Time.GetUtcNow().ToUnixTimeSeconds().ToString(), result[0].GetProperty("last_time").GetString());
        Assert.Equal("nobody", result[1].GetProperty("uid").GetString());
        Assert.Empty(result[1].GetProperty("status").EnumerateObject());
    }

    [Fact]
    public async Task A_device_status_lasts_a_day_unless_set_again()
    {
        var app = App();
        using var c1 = Client(app, "c1");
        await Ok(await c1.PostAsync($"/{app}/users/c1/presence/web_1/1", Json("""{"ext":""}""")));
        factory.Time.Advance(TimeSpan.FromDays(1));
        var status = (await Ok(await c1.PostAsync($"/{app}/users/c1/presence", Json("""{"usernames":["c1"]}""")))).GetProperty("result")[0].GetProperty("status");
        Assert.Equal("0", status.GetProperty("web_1").GetString());
    }

    [Fact]
    public async Task Subscriptions_return_statuses_with_expiry_and_page_in_a_stable_order()
    {
        var app = App();
        using var wzy = Client(app, "wzy");
        var now = factory.Time.GetUtcNow();
        var result = (await Ok(await wzy.PostAsync($"/{app}/users/wzy/presence/1000", Json("""{"usernames":["c3","c2","c1"]}""")))).GetProperty("result");
        Assert.Equal(3, result.GetArrayLength());
        Assert.All(result.EnumerateArray(), r => Assert.Equal((now.ToUnixTimeSeconds() + 1000).ToString(), r.GetProperty("expiry").GetString()));

        var page1 = (await Ok(await wzy.GetAsync($"/{app}/users/wzy/presence/sublist?pageNum=1&pageSize=2"))).GetProperty("result");
        Assert.Equal("3", page1.GetProperty("totalnum").GetString());
        Assert.Equal(["c1", "c2"], page1.GetProperty("sublist").EnumerateArray().Select(s => s.GetProperty("uid").GetString()));
        var page2 = (await Ok(await wzy.GetAsync($"/{app}/users/wzy/presence/sublist?pageNum=2&pageSize=2"))).GetProperty("result");
        Assert.Equal(["c3"], page2.GetProperty("sublist").EnumerateArray().Select(s => s.GetProperty("uid").GetString()));

        await Ok(await wzy.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/{app}/users/wzy/presence") { Content = Json("""["c1"]""") }));
        await Ok(await wzy.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/{app}/users/wzy/presence") { Content = Json("""{"users":["c2"]}""") }));
        var left = (await Ok(await wzy.GetAsync($"/{app}/users/wzy/presence/sublist?pageNum=1&pageSize=10"))).GetProperty("result");
        Assert.Equal("1", left.GetProperty("totalnum").GetString());

        factory.Time.Advance(TimeSpan.FromSeconds(1000));
        var expired = (await Ok(await wzy.GetAsync($"/{app}/users/wzy/presence/sublist?pageNum=1&pageSize=10"))).GetProperty("result");
        Assert.Equal("0", expired.GetProperty("totalnum").GetString());
    }

    public static TheoryData<string, string, string?> BadRequests() => new()
    {
        { "POST", "/presence/android_1/1", """{"ext": """ },
        { "POST", "/presence/android_1/1", """{"ext":"\ud800"}""" },
        { "POST", "/presence", """["\udc00"]""" },
        { "POST", "/presence/android_1/1", """{"other":"x"}""" },
        { "POST", "/presence/android_1/1", "{\"ext\":\"" + new string('x', 65) + "\"}" },
        { "POST", "/presence/android_1/1", "{\"ext\":\"" + string.Concat(Enumerable.Repeat("é", 33)) + "\"}" },
        { "POST", "/presence/toaster_1/1", """{"ext":""}""" },
        { "POST", "/presence/android/1", """{"ext":""}""" },
        { "POST", "/presence/android_1/" + new string('s', 101), """{"ext":""}""" },
        { "POST", "/presence", """{"usernames":"c1"}""" },
        { "POST", "/presence", """{"usernames":[]}""" },
        { "POST", "/presence", "{\"usernames\":[" + string.Join(",", Enumerable.Range(0, 101).Select(i => $"\"u{i}\"")) + "]}" },
        { "POST", "/presence", """{"usernames":["a b"]}""" },
        { "POST", "/presence", null },
        { "POST", "/presence/0", """{"usernames":["c1"]}""" },
        { "POST", "/presence/2592001", """{"usernames":["c1"]}""" },
        { "POST", "/presence/abc", """{"usernames":["c1"]}""" },
        { "DELETE", "/presence", """{"nope":[]}""" },
        { "GET", "/presence/sublist?pageNum=0&pageSize=10", null },
        { "GET", "/presence/sublist?pageNum=1&pageSize=501", null },
        { "GET", "/presence/sublist?pageSize=10", null },
        { "GET", "/presence/sublist?pageNum=x&pageSize=10", null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_gets_400_in_agoras_error_format_and_changes_nothing(string method, string path, string? body)
    {
        var app = App();
        using var c1 = Client(app, "c1");
        await Ok(await c1.PostAsync($"/{app}/users/c1/presence/android_1/before", Json("""{"ext":"before"}""")));
        var request = new HttpRequestMessage(new HttpMethod(method), $"/{app}/users/c1{path}") { Content = body is null ? null : Json(body) };
        Assert.False(string.IsNullOrEmpty(await Error(await c1.SendAsync(request), HttpStatusCode.BadRequest)));

        var after = (await Ok(await c1.PostAsync($"/{app}/users/c1/presence", Json("""{"usernames":["c1"]}""")))).GetProperty("result")[0];
        Assert.Equal("before", after.GetProperty("ext").GetString());
        Assert.Equal("before", after.GetProperty("status").GetProperty("android_1").GetString());
    }

    [Fact]
    public async Task A_user_token_acts_only_for_its_own_uid_and_only_in_its_own_app()
    {
        var app = App();
        using var c1 = Client(app, "c1");
        await Error(await c1.PostAsync($"/{app}/users/c2/presence/web_1/1", Json("""{"ext":""}""")), HttpStatusCode.Forbidden);
        await Error(await c1.PostAsync($"/{App()}/users/c1/presence/web_1/1", Json("""{"ext":""}""")), HttpStatusCode.Forbidden);

        using var admin = Client(app, "app-admin", role: "admin");
        await Ok(await admin.PostAsync($"/{app}/users/c2/presence/web_1/1", Json("""{"ext":""}""")));
        await Ok(await admin.GetAsync($"/{app}/users/c2/presence/sublist?pageNum=1&pageSize=10"));
    }

    [Fact]
    public async Task Calls_without_a_valid_token_get_401_in_agoras_error_format()
    {
        var app = App();
        using var anonymous = factory.CreateClient();
        await Error(await anonymous.PostAsync($"/{app}/users/c1/presence", Json("""{"usernames":["c1"]}""")), HttpStatusCode.Unauthorized);
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "forged.token.value");
        await Error(await anonymous.GetAsync($"/{app}/users/c1/presence/sublist?pageNum=1&pageSize=1"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Bodies_over_the_cap_get_413_in_agoras_error_format()
    {
        var app = App();
        using var c1 = Client(app, "c1");
        var big = "{\"usernames\":[\"c1\"],\"pad\":\"" + new string('p', 70_000) + "\"}";
        await Error(await c1.PostAsync($"/{app}/users/c1/presence", Json(big)), HttpStatusCode.RequestEntityTooLarge);
    }
}
