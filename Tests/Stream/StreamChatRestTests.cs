using System.Text.Json;
using Presence.Tests.Support;
using static Presence.Tests.Stream.StreamChatClient;

namespace Presence.Tests.Stream;

/// <summary>Stream's REST routes as the SDK calls them (wire specification, section 2): shapes, permissions and every refusal.</summary>
[Collection(StreamChatCollection.Name)]
public sealed class StreamChatRestTests(StreamChatGatewayFactory factory)
{
    private static string Id(string name) => name + Guid.NewGuid().ToString("N")[..8];

    private HttpClient As(string userId) => Rest(factory.Address, UserToken(userId));

    private HttpClient Server() => Rest(factory.Address, ServerToken());

    private static string Users(string payload) => Route("/users?payload=" + Uri.EscapeDataString(payload));

    private static void AssertError(int expectedStatus, int expectedCode, (int Status, JsonElement Body) response, string? message = null)
    {
        Assert.True(expectedStatus == response.Status, $"status {response.Status}: {response.Body}");
        Assert.Equal(expectedCode, response.Body.GetProperty("code").GetInt32());
        Assert.Equal(expectedStatus, response.Body.GetProperty("StatusCode").GetInt32());
        Assert.True(response.Body.TryGetProperty("duration", out _) && response.Body.TryGetProperty("more_info", out _));
        if (message is not null)
        {
            Assert.Contains(message, response.Body.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task Calls_without_the_apps_key_or_a_valid_token_are_refused_with_streams_codes()
    {
        var payload = """{"filter_conditions":{"id":"x"}}""";
        using var anonymous = new HttpClient { BaseAddress = factory.Address };
        AssertError(401, 5, await Read(await anonymous.GetAsync(Users(payload))));
        using var user = As("ann");
        AssertError(401, 2, await Read(await user.GetAsync("/users?payload=" + Uri.EscapeDataString(payload))));
        AssertError(401, 2, await Read(await user.GetAsync(Route("/users?payload=" + Uri.EscapeDataString(payload), apiKey: "nokey"))));
        using var forged = Rest(factory.Address, UserToken("ann", StreamChatGatewayFactory.Secret + "-forged"));
        AssertError(401, 43, await Read(await forged.GetAsync(Users(payload))));
        using var expired = Rest(factory.Address, Sign("""{"user_id":"ann","exp":1000}"""));
        AssertError(401, 40, await Read(await expired.GetAsync(Users(payload))));
        using var other = Rest(factory.Address, UserToken("ann"));
        // A token of one app is not another's (each app signs with its own secret).
        AssertError(401, 43, await Read(await other.GetAsync(Route("/users?payload=" + Uri.EscapeDataString(payload), apiKey: StreamChatGatewayFactory.OtherKey))));
        using var dev = Rest(factory.Address, DevToken("ann")); // allowed on this gateway (Presence:Stream:AllowDevTokens)
        Assert.Equal(200, (await Read(await dev.GetAsync(Users(payload)))).Status);
        AssertError(404, 16, await Read(await user.GetAsync(Route("/channels/nowhere"))));
    }

    [Fact]
    public async Task QueryUsers_answers_users_by_id_with_their_presence_sorted_and_paged()
    {
        var (ann, bob, cy) = (Id("ann"), Id("bob"), Id("cy"));
        using var server = Server();
        var upsert = await Read(await server.PostAsync(Route("/users"), Json($$$$"""
            {"users":{"{{{{ann}}}}":{"id":"{{{{ann}}}}","name":"Ann"},"{{{{bob}}}}":{"id":"{{{{bob}}}}","name":"Bob","image":"https://img.example/b.png"}}}
            """)));
        Assert.Equal(200, upsert.Status);
        Assert.Equal("Bob", upsert.Body.GetProperty("users").GetProperty(bob).GetProperty("name").GetString());
        var (socket, _) = await StreamSocket.Connect(factory.Address, bob);
        await using var connected = socket;

        using var client = As(ann);
        var (status, body) = await Read(await client.GetAsync(Users($$$$"""
            {"filter_conditions":{"id":{"$in":["{{{{ann}}}}","{{{{bob}}}}","{{{{cy}}}}"]}},"sort":[{"field":"id","direction":-1}],"presence":false,"limit":10}
            """)));
        Assert.Equal(200, status);
        var users = body.GetProperty("users").EnumerateArray().ToList();
        Assert.Equal([bob, ann], users.Select(u => u.GetProperty("id").GetString())); // cy is unknown: not listed
        var b = users[0];
        Assert.True(b.GetProperty("online").GetBoolean());
        Assert.Equal("Bob", b.GetProperty("name").GetString());
        Assert.Equal("https://img.example/b.png", b.GetProperty("image").GetString());
        Assert.Equal("user", b.GetProperty("role").GetString());
        Assert.True(b.TryGetProperty("last_active", out _));
        Assert.False(b.TryGetProperty("invisible", out _)); // only in the user's own view
        Assert.False(users[1].GetProperty("invisible").GetBoolean());
        Assert.True(body.TryGetProperty("duration", out _));

        var page = await Read(await client.GetAsync(Users($$$$"""{"filter_conditions":{"id":{"$in":["{{{{ann}}}}","{{{{bob}}}}"]}},"sort":[{"field":"id","direction":1}],"limit":1,"offset":1}""")));
        Assert.Equal([bob], page.Body.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("id").GetString()));
        var eq = await Read(await client.GetAsync(Users($$$$"""{"filter_conditions":{"id":{"$eq":"{{{{bob}}}}"}}}""")));
        Assert.Equal(bob, eq.Body.GetProperty("users")[0].GetProperty("id").GetString());
    }

    public static TheoryData<string, string> BadQueries => new()
    {
        { "not json", "payload must be JSON" },
        { "[1]", "payload must be a JSON object" },
        { """{"sort":[]}""", "filter_conditions is required" },
        { """{"filter_conditions":{"name":"Ann"}}""", "only id is supported" },
        { """{"filter_conditions":{"id":{"$gt":"a"}}}""", "other operators are not supported" },
        { """{"filter_conditions":{"id":{"$in":[1]}}}""", "array of user ids" },
        { """{"filter_conditions":{"id":"bad id"}}""", "invalid user id" },
        { """{"filter_conditions":{"id":"a"},"sort":[{"field":"shoe_size"}]}""", "sort" },
        { """{"filter_conditions":{"id":"a"},"limit":0}""", "limit must be a whole number from 1 to 100" },
        { """{"filter_conditions":{"id":"a"},"offset":-1}""", "offset" },
        { """{"filter_conditions":{"id":"a"},"presence":"yes"}""", "presence must be true or false" },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task A_query_this_service_cannot_answer_is_a_clear_400_with_code_4(string payload, string message)
    {
        using var client = As("ann");
        AssertError(400, 4, await Read(await client.GetAsync(Users(payload))), message);
    }

    [Fact]
    public async Task A_query_of_too_many_ids_or_without_payload_is_refused()
    {
        using var client = As("ann");
        var ids = string.Join(",", Enumerable.Range(0, 101).Select(i => $"\"u{i}\""));
        AssertError(400, 4, await Read(await client.GetAsync(Users($$$$"""{"filter_conditions":{"id":{"$in":[{{{{ids}}}}]}}}"""))), "at most 100 ids");
        AssertError(400, 4, await Read(await client.GetAsync(Route("/users"))), "payload is required");
    }

    [Fact]
    public async Task Upsert_and_partial_update_change_a_users_profile_and_visibility_everywhere_and_a_user_only_its_own()
    {
        var (ann, bob) = (Id("ann"), Id("bob"));
        var (socket, _) = await StreamSocket.Connect(factory.Address, ann);
        await using var connected = socket;
        using var client = As(ann);
        AssertError(403, 17, await Read(await client.PostAsync(Route("/users"), Json($$$$"""{"users":{"{{{{bob}}}}":{"id":"{{{{bob}}}}","name":"Bob"}}}"""))));
        AssertError(403, 17, await Read(await client.PatchAsync(Route("/users"), Json($$$$"""{"users":[{"id":"{{{{bob}}}}","set":{"invisible":true}}]}"""))));

        var patched = await Read(await client.PatchAsync(Route("/users"), Json($$$$"""{"users":[{"id":"{{{{ann}}}}","set":{"name":"Ann","invisible":true,"favourite_color":"blue"}}]}""")));
        Assert.Equal(200, patched.Status);
        var own = patched.Body.GetProperty("users").GetProperty(ann);
        Assert.True(own.GetProperty("invisible").GetBoolean());
        Assert.Equal("Ann", own.GetProperty("name").GetString());
        var updated = await socket.Next(StreamSocket.OfType("user.updated"));
        Assert.True(updated.GetProperty("user").GetProperty("invisible").GetBoolean());
        Assert.False(updated.TryGetProperty("cid", out _));

        // Invisible through Stream: offline in pnut; the name set here is pnut's name too.
        using var pnut = factory.ClientFor("observer");
        var seen = JsonDocument.Parse(await pnut.GetStringAsync($"/v1/users/{ann}/presence")).RootElement.GetProperty("data");
        Assert.Equal("offline", seen.GetProperty("presence").GetString());

        var unset = await Read(await client.PatchAsync(Route("/users"), Json($$$$"""{"users":[{"id":"{{{{ann}}}}","unset":["invisible","name"]}]}""")));
        Assert.False(unset.Body.GetProperty("users").GetProperty(ann).GetProperty("invisible").GetBoolean());
        Assert.False(unset.Body.GetProperty("users").GetProperty(ann).TryGetProperty("name", out _));
        seen = JsonDocument.Parse(await pnut.GetStringAsync($"/v1/users/{ann}/presence")).RootElement.GetProperty("data");
        Assert.Equal("online", seen.GetProperty("presence").GetString());

        using var server = Server();
        var forBob = await Read(await server.PatchAsync(Route("/users"), Json($$$$"""{"users":[{"id":"{{{{bob}}}}","set":{"image":"https://img.example/b.png"}}]}""")));
        Assert.Equal("https://img.example/b.png", forBob.Body.GetProperty("users").GetProperty(bob).GetProperty("image").GetString());
    }

    public static TheoryData<string, string, string> BadUserChanges => new()
    {
        { "POST", """{"users":[]}""", "users must be an object" },
        { "POST", """{"users":{"a":{"id":"b"}}}""", "id must be the user's key" },
        { "POST", """{"users":{"a":{"name":42}}}""", "name must be a string" },
        { "POST", """{"users":{"a":{"invisible":"yes"}}}""", "invisible must be true or false" },
        { "PATCH", """{"users":{}}""", "users must be an array" },
        { "PATCH", """{"users":[{"set":{}}]}""", "valid id" },
        { "PATCH", """{"users":[{"id":"a","set":[]}]}""", "set must be an object" },
        { "PATCH", """{"users":[{"id":"a","unset":"name"}]}""", "unset must be an array" },
        { "PATCH", """{"users":[{"id":"a","set":{"image":"x"}}]""", "malformed" },
    };

    [Theory]
    [MemberData(nameof(BadUserChanges))]
    public async Task A_bad_user_change_is_a_clear_400_and_changes_nothing(string method, string body, string message)
    {
        using var server = Server();
        var response = await Read(await server.SendAsync(new HttpRequestMessage(new HttpMethod(method), Route("/users")) { Content = Json(body) }));
        AssertError(400, 4, response, message);
    }

    [Fact]
    public async Task A_body_too_large_or_not_json_is_refused_in_streams_format()
    {
        using var server = Server();
        AssertError(413, 4, await Read(await server.PostAsync(Route("/users"), Json($$$$"""{"users":{"a":{"name":"{{{{new string('x', 70_000)}}}}"}}}"""))));
        AssertError(415, 4, await Read(await server.PostAsync(Route("/users"), new StringContent("<users/>", System.Text.Encoding.UTF8, "application/xml"))));
    }

    [Fact]
    public async Task Watching_a_channel_answers_its_members_with_their_presence_and_tells_its_watchers_who_comes_and_goes()
    {
        var (ann, bob) = (Id("ann"), Id("bob"));
        var room = Id("room");
        var (annSocket, annFirst) = await StreamSocket.Connect(factory.Address, ann, ""","name":"Ann" """);
        await using var a = annSocket;
        var (bobSocket, bobFirst) = await StreamSocket.Connect(factory.Address, bob, ""","name":"Bob" """);
        await using var b = bobSocket;
        using var annClient = As(ann);
        var first = await Read(await annClient.PostAsync(Route($"/channels/messaging/{room}/query", annFirst.GetProperty("connection_id").GetString()),
            Json($$$$"""{"data":{"members":["{{{{ann}}}}",{"user_id":"{{{{bob}}}}"}]},"state":true,"watch":true,"presence":true}""")));
        Assert.Equal(200, first.Status);
        var channel = first.Body.GetProperty("channel");
        Assert.Equal($"messaging:{room}", channel.GetProperty("cid").GetString());
        Assert.Equal(room, channel.GetProperty("id").GetString());
        Assert.Equal("messaging", channel.GetProperty("type").GetString());
        Assert.Equal(2, channel.GetProperty("member_count").GetInt32());
        Assert.Equal(JsonValueKind.Array, first.Body.GetProperty("messages").ValueKind);
        Assert.Equal(0, first.Body.GetProperty("messages").GetArrayLength());
        var members = first.Body.GetProperty("members").EnumerateArray().ToDictionary(m => m.GetProperty("user_id").GetString()!, m => m.GetProperty("user"));
        Assert.True(members[bob].GetProperty("online").GetBoolean());
        Assert.Equal("Bob", members[bob].GetProperty("name").GetString());
        Assert.Equal(1, first.Body.GetProperty("watcher_count").GetInt32()); // ann, watching
        Assert.Equal(ann, first.Body.GetProperty("watchers")[0].GetProperty("id").GetString());

        // Bob watches too: ann hears it, with the count; then he stops, and she hears that.
        using var bobClient = As(bob);
        var bobConnection = bobFirst.GetProperty("connection_id").GetString();
        Assert.Equal(200, (await Read(await bobClient.PostAsync(Route($"/channels/messaging/{room}/query", bobConnection), Json("""{"watch":true}""")))).Status);
        var start = await annSocket.Next(f => StreamSocket.OfType("user.watching.start")(f) && f.GetProperty("user").GetProperty("id").GetString() == bob);
        Assert.Equal($"messaging:{room}", start.GetProperty("cid").GetString());
        Assert.Equal(room, start.GetProperty("channel_id").GetString());
        Assert.Equal(bob, start.GetProperty("user").GetProperty("id").GetString());
        Assert.Equal(2, start.GetProperty("watcher_count").GetInt32());
        var stopped = await Read(await bobClient.PostAsync(Route($"/channels/messaging/{room}/stop-watching", bobConnection), Json("{}")));
        Assert.Equal(200, stopped.Status);
        var stop = await annSocket.Next(StreamSocket.OfType("user.watching.stop"));
        Assert.Equal(bob, stop.GetProperty("user").GetProperty("id").GetString());
        Assert.Equal(1, stop.GetProperty("watcher_count").GetInt32());

        // Bob leaves: ann, who watches the channel, hears his presence change with the whole user, without a cid.
        await bobSocket.Close();
        var offline = await annSocket.Next(f => StreamSocket.OfType("user.presence.changed")(f) && f.GetProperty("user").GetProperty("id").GetString() == bob);
        Assert.False(offline.GetProperty("user").GetProperty("online").GetBoolean());
        Assert.Equal("Bob", offline.GetProperty("user").GetProperty("name").GetString());
        Assert.False(offline.TryGetProperty("cid", out _));

        // The reconnect recovery: queryChannels by cid answers the channel's state again.
        var recovered = await Read(await annClient.PostAsync(Route("/channels", annFirst.GetProperty("connection_id").GetString()),
            Json($$$$"""{"filter_conditions":{"cid":{"$in":["messaging:{{{{room}}}}"]}},"sort":[{"field":"last_message_at","direction":-1}],"state":true,"watch":true,"presence":false,"limit":30}""")));
        Assert.Equal(200, recovered.Status);
        var state = Assert.Single(recovered.Body.GetProperty("channels").EnumerateArray());
        Assert.Equal($"messaging:{room}", state.GetProperty("channel").GetProperty("cid").GetString());
        Assert.Equal(0, state.GetProperty("messages").GetArrayLength());
        Assert.False(state.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("user_id").GetString() == bob).GetProperty("user").GetProperty("online").GetBoolean());
    }

    public static TheoryData<string, string, string, int> BadChannelCalls => new()
    {
        { "/channels/Messaging/room/query", "{}", "a channel is {type}:{id}", 4 },
        { "/channels/messaging/room/query", """{"data":{"members":"ann"}}""", "data.members must be an array", 4 },
        { "/channels/messaging/room/query", """{"data":{"members":["bad id"]}}""", "invalid user id", 4 },
        { "/channels/messaging/room/query", """{"watch":"yes"}""", "watch must be true or false", 4 },
        { "/channels/messaging/room/query", """{"members":{"limit":1000}}""", "members.limit", 4 },
        { "/channels/messaging/room/query?connection_id=nobody--1", "{}", "connection_id 'nobody--1' is not an open connection", 46 },
        { "/channels", """{"filter_conditions":{"type":"messaging"}}""", "only cid is supported", 4 },
        { "/channels", """{"filter_conditions":{"cid":{"$in":["room"]}}}""", "is not a cid", 4 },
        { "/channels", "[]", "the body must be a JSON object", 4 },
    };

    [Theory]
    [MemberData(nameof(BadChannelCalls))]
    public async Task A_bad_channel_call_is_refused_with_a_clear_message(string path, string body, string message, int code)
    {
        using var client = As("ann");
        AssertError(400, code, await Read(await client.PostAsync(Route(path), Json(body))), message);
    }

    [Fact]
    public async Task A_connection_id_names_its_socket_as_soon_as_the_first_frame_arrives()
    {
        // The SDK's first call after connecting names the connection at once (it once raced the socket's registration).
        var watched = Id("wat");
        using var server = Server();
        await server.PostAsync(Route("/users"), Json($$$$"""{"users":{"{{{{watched}}}}":{"id":"{{{{watched}}}}"}}}"""));
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            var user = Id("eager");
            var (socket, first) = await StreamSocket.Connect(factory.Address, user);
            await using var connected = socket;
            using var client = As(user);
            var response = await Read(await client.GetAsync(Route("/users?payload=" + Uri.EscapeDataString($$$$"""{"filter_conditions":{"id":"{{{{watched}}}}"},"presence":true}"""),
                first.GetProperty("connection_id").GetString())));
            Assert.True(response.Status == 200, response.Body.ToString());
        }));
    }

    [Fact]
    public async Task A_socket_watches_within_its_limits_and_a_call_past_them_is_refused_whole_before_it_changes_anything()
    {
        var user = Id("lim");
        var others = Enumerable.Range(0, StreamChatGatewayFactory.MaxUsers + 1).Select(i => Id($"o{i}")).ToArray();
        using var server = Server();
        var upserts = string.Join(",", others.Select(o => $$$$"""  "{{{{o}}}}":{"id":"{{{{o}}}}"}  """));
        Assert.Equal(200, (await Read(await server.PostAsync(Route("/users"), Json("{\"users\":{" + upserts + "}}")))).Status);
        var (socket, first) = await StreamSocket.Connect(factory.Address, user);
        await using var connected = socket;
        var connection = first.GetProperty("connection_id").GetString();
        using var client = As(user);
        string Payload(IEnumerable<string> ids) => Uri.EscapeDataString($$$$"""{"filter_conditions":{"id":{"$in":[{{{{string.Join(",", ids.Select(i => $"\"{i}\""))}}}}]}},"presence":true,"limit":100}""");
        var allowed = others[..StreamChatGatewayFactory.MaxUsers];
        for (var again = 0; again < 2; again++) // the same users again: nothing new to watch
        {
            Assert.Equal(200, (await Read(await client.GetAsync(Route("/users?payload=" + Payload(allowed), connection)))).Status);
        }
        AssertError(400, 4, await Read(await client.GetAsync(Route("/users?payload=" + Payload(others[^1..]), connection))), "at most");

        var rooms = Enumerable.Range(0, StreamChatGatewayFactory.MaxChannels + 1).Select(i => Id("lim-room")).ToArray();
        foreach (var room in rooms[..^1])
        {
            Assert.Equal(200, (await Read(await client.PostAsync(Route($"/channels/messaging/{room}/query", connection), Json("""{"watch":true}""")))).Status);
        }
        var refused = await Read(await client.PostAsync(Route($"/channels/messaging/{rooms[^1]}/query", connection),
            Json($$$$"""{"watch":true,"data":{"members":["{{{{user}}}}"]}}""")));
        AssertError(400, 4, refused, "at most 3 channels");
        var untouched = await Read(await server.PostAsync(Route($"/channels/messaging/{rooms[^1]}/query"), Json("{}")));
        Assert.Equal(0, untouched.Body.GetProperty("channel").GetProperty("member_count").GetInt32()); // its members were not added
        var recovery = await Read(await client.PostAsync(Route("/channels", connection),
            Json($$$$"""{"filter_conditions":{"cid":{"$in":["messaging:{{{{rooms[0]}}}}","messaging:{{{{rooms[^1]}}}}"]}},"watch":true}""")));
        AssertError(400, 4, recovery, "at most 3 channels");
    }

    [Fact]
    public async Task Watching_and_stopping_at_once_again_and_again_leaves_no_watcher_behind()
    {
        var user = Id("flip");
        var room = Id("flip-room");
        var (socket, first) = await StreamSocket.Connect(factory.Address, user);
        await using var connected = socket;
        var connection = first.GetProperty("connection_id").GetString();
        using var client = As(user);
        await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            await client.PostAsync(Route($"/channels/messaging/{room}/query", connection), Json("""{"watch":true}"""));
            await client.PostAsync(Route($"/channels/messaging/{room}/stop-watching", connection), Json("{}"));
        }));
        await client.PostAsync(Route($"/channels/messaging/{room}/stop-watching", connection), Json("{}"));
        using var server = Server();
        await Poll.Until(async () =>
        {
            var state = await Read(await server.PostAsync(Route($"/channels/messaging/{room}/query"), Json("{}")));
            return state.Body.GetProperty("watcher_count").GetInt32() == 0;
        }, "no watcher once every watch was stopped", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Another_users_connection_id_is_not_the_callers()
    {
        var (ann, bob) = (Id("ann"), Id("bob"));
        var (socket, first) = await StreamSocket.Connect(factory.Address, bob);
        await using var connected = socket;
        using var client = As(ann);
        var response = await Read(await client.GetAsync(Route("/users?payload=" + Uri.EscapeDataString($$$$"""{"filter_conditions":{"id":"{{{{bob}}}}"},"presence":true}"""),
            first.GetProperty("connection_id").GetString())));
        AssertError(400, 46, response);
    }
}
