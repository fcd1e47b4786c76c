using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

[Collection(GatewayCollection.Name)]
public sealed class RocketChatApiTests(GatewayFactory factory)
{
    /// <summary>A Rocket.Chat client: the token as X-Auth-Token, its user as X-User-Id.</summary>
    private HttpClient RocketChat(string tenant, string user)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Auth-Token", GatewayFactory.Token(user, tenant));
        client.DefaultRequestHeaders.Add("X-User-Id", user);
        return client;
    }

    private async Task SetStatus(string tenant, string user, string status)
    {
        using var pnut = factory.ClientFor(user, tenant, username: user + "-name");
        await (await pnut.PutAsync("/v1/users/me/presence", Pnut.Form(("presence", status)))).AssertOk();
    }

    private static async Task<JsonElement> Ok(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement.Clone();
        Assert.True(json.GetProperty("success").GetBoolean());
        return json;
    }

    private static async Task Fails(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        Assert.False(json.GetProperty("success").GetBoolean());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()));
    }

    private static Dictionary<string, JsonElement> Users(JsonElement json)
        => json.GetProperty("users").EnumerateArray().ToDictionary(u => u.GetProperty("_id").GetString()!);

    [Fact]
    public async Task Without_parameters_everyone_not_offline_is_listed_in_full_with_statuses_mapped()
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "ann", "away");
        await SetStatus(tenant, "bob", "in a meeting");
        await SetStatus(tenant, "cid", "offline");
        using var client = RocketChat(tenant, "ann");
        var json = await Ok(await client.GetAsync("/api/v1/users.presence"));
        Assert.True(json.GetProperty("full").GetBoolean());
        var users = Users(json);
        Assert.Equal(["ann", "bob"], users.Keys.Order());
        Assert.Equal("away", users["ann"].GetProperty("status").GetString());
        Assert.Equal("ann-name", users["ann"].GetProperty("username").GetString());
        Assert.False(users["ann"].TryGetProperty("statusText", out _));
        Assert.Equal("online", users["bob"].GetProperty("status").GetString());
        Assert.Equal("in a meeting", users["bob"].GetProperty("statusText").GetString());
    }

    [Theory]
    [InlineData("ids=ann,cid,zed")]
    [InlineData("ids=ann&ids=cid&ids=zed")]
    [InlineData("ids[]=ann&ids[]=cid&ids[]=zed")]
    [InlineData("ids=%5B%22ann%22,%22cid%22,%22zed%22%5D")]
    [InlineData("ids=ann,cid,zed&from=2000-01-01T00:00:00Z")]
    public async Task Ids_in_every_published_form_return_those_not_offline_as_a_partial_result(string query)
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "ann", "busy");
        await SetStatus(tenant, "bob", "here");
        await SetStatus(tenant, "cid", "0");
        using var client = RocketChat(tenant, "ann");
        var json = await Ok(await client.GetAsync("/api/v1/users.presence?" + query));
        Assert.False(json.GetProperty("full").GetBoolean());
        Assert.Equal(["ann"], Users(json).Keys);
    }

    [Fact]
    public async Task Listing_a_tenant_in_full_by_ids_and_by_changes_activates_no_grain_of_the_tenant_beyond_its_users()
    {
        // A grain per tenant that lists (a stateless worker, say) costs every small tenant an activation and a timer.
        var tenant = Keys.Tenant();
        var management = factory.Services.GetRequiredService<Orleans.IGrainFactory>().GetGrain<Orleans.Runtime.IManagementGrain>(0);
        // Stateless workers are left out of the detailed statistics: they are counted by type.
        async Task<int> Directories() => (await management.GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains(nameof(Presence.Grains.Index.PresenceDirectoryGrain), StringComparison.Ordinal)).Sum(s => s.ActivationCount);
        var directoriesBefore = await Directories();
        await SetStatus(tenant, "ann", "away");
        using var client = RocketChat(tenant, "ann");
        var since = factory.Time.GetUtcNow().AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        Assert.Single(Users(await Ok(await client.GetAsync("/api/v1/users.presence"))));
        Assert.Single(Users(await Ok(await client.GetAsync("/api/v1/users.presence?ids=ann"))));
        Assert.Single(Users(await Ok(await client.GetAsync($"/api/v1/users.presence?from={since}"))));
        using var pnut = factory.ClientFor("ann", tenant);
        await (await pnut.GetAsync("/v1/presence")).AssertOk();

        var ofTenant = (await management.GetDetailedGrainStatistics())
            .Where(s => s.GrainId.Key.ToString() is { } key && (key == tenant || key.StartsWith(tenant + "/", StringComparison.Ordinal)))
            .Select(s => s.GrainId.Type.ToString()).Distinct();
        Assert.Equal(["presence-user"], ofTenant);
        Assert.True(await Directories() <= directoriesBefore, "a directory grain was activated");
    }

    [Fact]
    public async Task From_within_ten_minutes_returns_every_change_since_offline_included_and_older_returns_everything()
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "old", "here");
        factory.Time.Advance(TimeSpan.FromMinutes(1));
        var since = factory.Time.GetUtcNow();
        await SetStatus(tenant, "ann", "here");
        await SetStatus(tenant, "old", "0");
        using var client = RocketChat(tenant, "ann");

        var from = since.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var partial = await Ok(await client.GetAsync($"/api/v1/users.presence?from={from}"));
        Assert.False(partial.GetProperty("full").GetBoolean());
        var users = Users(partial);
        Assert.Equal(["ann", "old"], users.Keys.Order());
        Assert.Equal("offline", users["old"].GetProperty("status").GetString());

        var noSeconds = since.AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture);
        Assert.False((await Ok(await client.GetAsync($"/api/v1/users.presence?from={noSeconds}"))).GetProperty("full").GetBoolean());

        var old = since.AddMinutes(-11).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture);
        var full = await Ok(await client.GetAsync($"/api/v1/users.presence?from={Uri.EscapeDataString(old)}"));
        Assert.True(full.GetProperty("full").GetBoolean());
        Assert.Equal(["ann"], Users(full).Keys);
    }

    [Theory]
    [InlineData("from=yesterday")]
    [InlineData("from=2019-13-45T00:00:00Z")]
    [InlineData("ids=%5B%22ann%22")]
    [InlineData("ids=a%20b")]
    [InlineData("ids=%5Bnull%5D")]
    public async Task Unparseable_parameters_get_400_in_rocket_chats_format(string query)
    {
        using var client = RocketChat(Keys.Tenant(), "ann");
        await Fails(await client.GetAsync("/api/v1/users.presence?" + query), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_get_with_a_json_content_type_and_an_empty_body_works()
    {
        using var client = RocketChat(Keys.Tenant(), "ann");
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users.presence") { Content = new StringContent("", null, "application/json") };
        await Ok(await client.SendAsync(request));
    }

    [Fact]
    public async Task X_user_id_must_be_the_tokens_user_and_a_token_is_required()
    {
        var tenant = Keys.Tenant();
        using var wrongUser = factory.CreateClient();
        wrongUser.DefaultRequestHeaders.Add("X-Auth-Token", GatewayFactory.Token("ann", tenant));
        wrongUser.DefaultRequestHeaders.Add("X-User-Id", "bob");
        await Fails(await wrongUser.GetAsync("/api/v1/users.presence"), HttpStatusCode.Unauthorized);

        using var noToken = factory.CreateClient();
        noToken.DefaultRequestHeaders.Add("X-User-Id", "ann");
        await Fails(await noToken.GetAsync("/api/v1/users.presence"), HttpStatusCode.Unauthorized);

        using var bearer = factory.CreateClient();
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayFactory.Token("ann", tenant));
        bearer.DefaultRequestHeaders.Add("X-User-Id", "ann");
        await Ok(await bearer.GetAsync("/api/v1/users.presence"));
    }

    [Fact]
    public async Task Get_presence_and_get_status_read_the_same_presence()
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "bob", "on a call");
        using var client = RocketChat(tenant, "ann");
        Assert.Equal("online", (await Ok(await client.GetAsync("/api/v1/users.getPresence?userId=bob"))).GetProperty("presence").GetString());
        Assert.Equal("offline", (await Ok(await client.GetAsync("/api/v1/users.getPresence"))).GetProperty("presence").GetString());

        var status = await Ok(await client.GetAsync("/api/v1/users.getStatus?userId=bob"));
        Assert.Equal("bob", status.GetProperty("_id").GetString());
        Assert.Equal("online", status.GetProperty("status").GetString());
        Assert.Equal("on a call", status.GetProperty("message").GetString());
        Assert.Equal("online", status.GetProperty("connectionStatus").GetString());
        await Fails(await client.GetAsync("/api/v1/users.getStatus?userId=%40bob"), HttpStatusCode.BadRequest);
    }

    private static StringContent JsonBody(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    [Fact]
    public async Task SetStatus_sets_a_manual_status_with_its_message_that_holds_while_the_user_is_live()
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "kai", "online");
        using var kai = RocketChat(tenant, "kai");
        var set = await Ok(await kai.PostAsync("/api/v1/users.setStatus", JsonBody("""{"status":"away","message":"lunch"}""")));
        Assert.Equal("away", set.GetProperty("status").GetString());
        Assert.Equal("lunch", set.GetProperty("message").GetString());

        // A refresh through another dialect does not undo a manual status.
        await SetStatus(tenant, "kai", "online");
        using var other = RocketChat(tenant, "lee");
        var status = await Ok(await other.GetAsync("/api/v1/users.getStatus?userId=kai"));
        Assert.Equal("away", status.GetProperty("status").GetString());
        Assert.Equal("lunch", status.GetProperty("message").GetString());
        var listed = Users(await Ok(await other.GetAsync("/api/v1/users.presence?ids=kai")))["kai"];
        Assert.Equal("away", listed.GetProperty("status").GetString());
        Assert.Equal("lunch", listed.GetProperty("statusText").GetString());

        await Ok(await kai.PostAsync("/api/v1/users.setStatus", JsonBody("""{"status":"online"}""")));
        Assert.Equal("online", (await Ok(await other.GetAsync("/api/v1/users.getStatus?userId=kai"))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task SetStatus_keeps_the_message_of_a_user_who_is_not_live()
    {
        var tenant = Keys.Tenant();
        using var quinn = RocketChat(tenant, "quinn");
        var set = await Ok(await quinn.PostAsync("/api/v1/users.setStatus", JsonBody("""{"status":"away","message":"back at 9"}""")));
        Assert.Equal("offline", set.GetProperty("status").GetString()); // a manual status never makes a user live
        Assert.Equal("back at 9", set.GetProperty("message").GetString());
        Assert.Equal("back at 9", (await Ok(await quinn.GetAsync("/api/v1/users.getStatus"))).GetProperty("message").GetString());
    }

    [Fact]
    public async Task SetStatus_with_only_a_message_keeps_the_status_automatic()
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "pia", "away");
        using var pia = RocketChat(tenant, "pia");
        var set = await Ok(await pia.PostAsync("/api/v1/users.setStatus", JsonBody("""{"message":"brb"}""")));
        Assert.Equal("away", set.GetProperty("status").GetString());
        Assert.Equal("brb", set.GetProperty("message").GetString());
        await SetStatus(tenant, "pia", "online");
        var status = await Ok(await pia.GetAsync("/api/v1/users.getStatus"));
        Assert.Equal("online", status.GetProperty("status").GetString());
        Assert.Equal("brb", status.GetProperty("message").GetString());
    }

    [Fact]
    public async Task SetStatus_offline_means_appearing_offline_to_everyone_else()
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "max", "online");
        using var max = RocketChat(tenant, "max");
        await Ok(await max.PostAsync("/api/v1/users.setStatus", JsonBody("""{"status":"offline"}""")));

        var own = await Ok(await max.GetAsync("/api/v1/users.getStatus"));
        Assert.Equal("offline", own.GetProperty("status").GetString());
        Assert.Equal("online", own.GetProperty("connectionStatus").GetString());

        using var other = RocketChat(tenant, "ned");
        var seen = await Ok(await other.GetAsync("/api/v1/users.getStatus?userId=max"));
        Assert.Equal("offline", seen.GetProperty("status").GetString());
        Assert.Equal("offline", seen.GetProperty("connectionStatus").GetString());
        Assert.DoesNotContain("max", Users(await Ok(await other.GetAsync("/api/v1/users.presence"))).Keys);
        using var pnut = factory.ClientFor("ned", tenant);
        Assert.Equal("offline", (await (await pnut.GetAsync("/v1/users/max/presence")).AssertOk()).GetProperty("data").GetProperty("presence").GetString());

        await Ok(await max.PostAsync("/api/v1/users.setStatus", JsonBody("""{"status":"busy"}""")));
        Assert.Equal("busy", (await Ok(await other.GetAsync("/api/v1/users.getStatus?userId=max"))).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("""{"status":"sleeping"}""", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("""{"status":5}""", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("""{}""", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("""{"status":""", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("""[1]""", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("status=away", "application/x-www-form-urlencoded", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("""{"userId":"someone-else","status":"away"}""", "application/json", HttpStatusCode.Forbidden)]
    public async Task SetStatus_refuses_bad_input_in_rocket_chats_format_and_changes_nothing(string body, string contentType, HttpStatusCode status)
    {
        var tenant = Keys.Tenant();
        await SetStatus(tenant, "ora", "online");
        using var ora = RocketChat(tenant, "ora");
        await Fails(await ora.PostAsync("/api/v1/users.setStatus", new StringContent(body, System.Text.Encoding.UTF8, contentType)), status);
        Assert.Equal("online", (await Ok(await ora.GetAsync("/api/v1/users.getStatus"))).GetProperty("status").GetString());
    }
}

/// <summary>A gateway with Rocket.Chat's Presence_broadcast_disabled set.</summary>
public sealed class BroadcastDisabledGatewayFactory() : GatewayFactory(("Presence:RocketChat:BroadcastDisabled", "true"));

public sealed class RocketChatBroadcastDisabledTests(BroadcastDisabledGatewayFactory factory) : IClassFixture<BroadcastDisabledGatewayFactory>
{
    [Fact]
    public async Task With_presence_broadcast_disabled_users_presence_lists_nobody()
    {
        var tenant = Keys.Tenant();
        using var pnut = factory.ClientFor("ann", tenant);
        await (await pnut.PutAsync("/v1/users/me/presence", null)).AssertOk();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Auth-Token", GatewayFactory.Token("ann", tenant));
        client.DefaultRequestHeaders.Add("X-User-Id", "ann");
        var json = JsonDocument.Parse(await (await client.GetAsync("/api/v1/users.presence")).Content.ReadAsStringAsync()).RootElement;
        Assert.Empty(json.GetProperty("users").EnumerateArray());
        Assert.True(json.GetProperty("success").GetBoolean());
    }
}
