namespace Presence.Bench;

/// <summary>
/// The reference: a bare Kestrel minimal API on the same framework, answering the same routes with a JSON body of
/// the same size as the gateway's, with no auth and no Orleans. It bounds what any HTTP service can do on this box.
/// </summary>
public static class BaselineServer
{
    private const string Body = """{"meta":{"code":200},"data":{"id":"u12345","username":"user12345","avatar_image":"","presence":"online","last_seen_at":"2026-11-23T12:00:00Z"}}""";

    // A page of 100 users, as the gateway's list pages are in the list scenario.
    private static readonly string Page = "{\"meta\":{\"code\":200,\"min_id\":\"AAAAAAAAAAAAAAAAAAAA\",\"more\":true},\"data\":["
        + string.Join(",", Enumerable.Range(0, 100).Select(i => $$"""{"id":"u{{i}}","username":"user-u{{i}}","avatar_image":"","presence":"online","last_seen_at":"2026-11-23T12:00:00Z"}"""))
        + "]}";

    public static int Run(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPut("/v1/users/me/presence", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            _ = form["presence"];
            return Results.Text(Body, "application/json; charset=utf-8");
        });
        app.MapGet("/v1/users/{id}/presence", (string id) => Results.Text(Body, "application/json; charset=utf-8"));
        app.MapGet("/v1/presence", () => Results.Text(Page, "application/json; charset=utf-8"));
        app.Run();
        return 0;
    }
}
