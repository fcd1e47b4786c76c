using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Presence.Gateway.Auth;
using Presence.Gateway.Hosting;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.RocketChat;

/// <summary>
/// Rocket.Chat's presence calls under <c>/api/v1</c>: users.presence (everyone online, the given ids, or what
/// changed since a time), users.getPresence, users.getStatus and users.setStatus. The token comes as X-Auth-Token
/// (or a bearer token) and X-User-Id must be its user.
/// </summary>
public static class RocketChatApi
{
    public const string UserIdHeader = "X-User-Id";
    public const int MaxIds = 1000;
    private const int ListPage = 1000;

    public static WebApplicationBuilder AddRocketChat(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RocketChatOptions>().BindConfiguration(RocketChatOptions.Section);
        return builder;
    }

    public static WebApplication MapRocketChatApi(this WebApplication app)
    {
        var api = app.MapDialect<RocketChatDialect>("/api/v1")
            .WithMetadata(RetriedOnFailover.Instance)
            .AddEndpointFilter(CheckUserId);
        api.MapGet("/users.presence", UsersPresence).WithName("RocketChatUsersPresence");
        api.MapGet("/users.getPresence", GetPresence).WithName("RocketChatGetPresence");
        api.MapGet("/users.getStatus", GetStatus).WithName("RocketChatGetStatus");
        api.MapPost("/users.setStatus", SetStatus).WithName("RocketChatSetStatus")
            .ReadsBody<RocketChatDialect>().Refuses<RocketChatDialect>(StatusCodes.Status403Forbidden); // another user's
        return app;
    }

    /// <summary>X-User-Id must name the token's user, as Rocket.Chat pairs the two headers.</summary>
    private static async ValueTask<object?> CheckUserId(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (http.Request.Headers[UserIdHeader] is not [{ } userId] || userId != Caller.Of(http).UserId)
        {
            return new Failure<RocketChatDialect>(StatusCodes.Status401Unauthorized, "X-User-Id does not match the token");
        }
        return await next(context);
    }

    public static async Task<Results<RocketChatOk<RocketChatPresenceList>, Failure<RocketChatDialect>>> UsersPresence(
        HttpContext http, IPresenceGrains presence, TimeProvider time, IOptions<RocketChatOptions> options)
    {
        var caller = Caller.Of(http);
        var (ids, idsError) = ReadIds(http.Request.Query);
        if (idsError is not null)
        {
            return idsError;
        }
        DateTimeOffset? from = null;
        if (ids is null && http.Request.Query["from"] is [{ } rawFrom])
        {
            if (!TryParseFrom(rawFrom, out var parsed))
            {
                return Failure<RocketChatDialect>.BadRequest("The 'from' param is invalid: use an ISO 8601 date such as 2019-05-22T12:11:45.392Z");
            }
            from = parsed;
        }
        if (options.Value.BroadcastDisabled)
        {
            return new RocketChatOk<RocketChatPresenceList>(new([], ids is null && from is null));
        }

        if (ids is not null)
        {
            // ids takes precedence over from, as in Rocket.Chat's own code: those of them who are not offline.
            var details = await presence.GetDetails(caller.Tenant, ids, http.RequestAborted);
            return new RocketChatOk<RocketChatPresenceList>(new(
                [.. details.Where(d => d.Status != PresenceStatus.Offline).Select(d => User(d.UserId, d.Profile, d.Status, d.StatusText))], Full: false));
        }
        var now = time.GetUtcNow();
        if (from is { } since && since >= now - PresenceChange.Window)
        {
            // Everyone whose presence changed since then, offline included, each with the latest change.
            var changes = await presence.ChangesSince(caller.Tenant, since, http.RequestAborted);
            var latest = changes.GroupBy(c => c.UserId).Select(g => g.MaxBy(c => c.At)!).OrderBy(c => c.UserId, StringComparer.Ordinal);
            return new RocketChatOk<RocketChatPresenceList>(new([.. latest.Select(c => User(c.UserId, c.Profile, c.Status, c.StatusText))], Full: false));
        }

        var users = new List<RocketChatUser>();
        DirectoryCursor? cursor = null;
        do
        {
            var page = await presence.ListOnline(caller.Tenant, cursor, ListPage, http.RequestAborted);
            users.AddRange(page.Users.Select(u => User(u.UserId, u.Profile, u.Status, u.StatusText)));
            cursor = page.Next;
        }
        while (cursor is not null);
        return new RocketChatOk<RocketChatPresenceList>(new([.. users], Full: true));
    }

    public static async Task<Results<RocketChatOk<RocketChatGetPresence>, Failure<RocketChatDialect>>> GetPresence(HttpContext http, IPresenceGrains users)
    {
        var caller = Caller.Of(http);
        if (Target(http, caller, out var target) is { } error)
        {
            return error;
        }
        var presence = await users.Get(caller.Tenant, target.UserId, target.Own, http.RequestAborted);
        return new RocketChatOk<RocketChatGetPresence>(new(Map(presence).Status));
    }

    public static async Task<Results<RocketChatOk<RocketChatGetStatus>, Failure<RocketChatDialect>>> GetStatus(HttpContext http, IPresenceGrains users)
    {
        var caller = Caller.Of(http);
        if (Target(http, caller, out var target) is { } error)
        {
            return error;
        }
        var presence = await users.Get(caller.Tenant, target.UserId, target.Own, http.RequestAborted);
        return new RocketChatOk<RocketChatGetStatus>(StatusOf(presence));
    }

    /// <summary>
    /// users.setStatus: a manual status that holds (no TTL) while the user is otherwise live; "online" goes back to
    /// automatic, "offline" means appearing offline (invisible). <c>message</c> becomes the statusText.
    /// </summary>
    public static async Task<Results<RocketChatOk<RocketChatGetStatus>, Failure<RocketChatDialect>>> SetStatus(
        HttpContext http, IPresenceGrains users, IOptions<GatewayHttpOptions> limits)
    {
        var caller = Caller.Of(http);
        var (body, bodyError) = await RocketChatBody.ReadAsync(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (Targets.Write<RocketChatDialect>(caller, body!.UserId, out var target) is { } targetError)
        {
            return targetError;
        }
        if (body.Status is null && body.Message is null)
        {
            return Failure<RocketChatDialect>.BadRequest("status or message is required");
        }
        if (body.Status is not null && !ManualStatuses.Contains(body.Status))
        {
            return Failure<RocketChatDialect>.BadRequest("status must be one of online, away, busy, offline");
        }
        if (body.Message is { } message && MessageProblem(message) is { } problem)
        {
            return Failure<RocketChatDialect>.BadRequest(problem);
        }
        var user = users.User(caller.Tenant, target.UserId);
        var status = body.Status;
        var manual = new ManualStatus(
            status is "away" or "busy" ? status : null,
            body.Message?.Trim(),
            Invisible: status == PresenceStatus.Offline,
            target.Profile,
            TextOnly: status is null); // a message alone keeps whatever status there is
        var presence = await user.SetManualStatus(manual, http.RequestAborted);
        return new RocketChatOk<RocketChatGetStatus>(StatusOf(presence));
    }

    public const int MaxMessageLength = 120;

    private static readonly HashSet<string> ManualStatuses = new(StringComparer.Ordinal) { PresenceStatus.Online, "away", "busy", PresenceStatus.Offline };

    private static string? MessageProblem(string message)
    {
        if (message.Trim().Length > MaxMessageLength)
        {
            return $"message is limited to {MaxMessageLength} characters";
        }
        return message.Any(char.IsControl) ? "message must not contain control characters" : null;
    }

    /// <summary>As Rocket.Chat answers for a user: its status (an invisible user's own is "offline"), whether it is connected, its text.</summary>
    private static RocketChatGetStatus StatusOf(UserPresence presence)
    {
        var (status, text) = Map(presence);
        var connection = presence.Status == PresenceStatus.Offline ? PresenceStatus.Offline : PresenceStatus.Online;
        // The message the user chose stays its message while it is offline too (others never see an invisible one's).
        return new RocketChatGetStatus(presence.UserId, presence.StatusText ?? text ?? "", connection, status);
    }

    private static (string Status, string? StatusText) Map(UserPresence presence)
        => presence.Invisible ? (PresenceStatus.Offline, presence.StatusText) : Map(presence.Status, presence.StatusText);

    /// <summary>
    /// online, away, busy and offline are Rocket.Chat statuses; any other text is "online" with that status text.
    /// A text the user chose (setStatus's message) is the status text, whatever the status.
    /// </summary>
    public static (string Status, string? StatusText) Map(string status, string? statusText = null) => status switch
    {
        PresenceStatus.Offline => (status, null),
        PresenceStatus.Online or "away" or "busy" => (status, statusText),
        _ => (PresenceStatus.Online, statusText ?? status),
    };

    private static RocketChatUser User(string id, UserProfile profile, string status, string? statusText)
    {
        var (mapped, text) = Map(status, statusText);
        return new RocketChatUser(id, profile.Username ?? id, profile.Name, mapped, text);
    }

    /// <summary>?userId= (once), or the caller.</summary>
    private static Failure<RocketChatDialect>? Target(HttpContext http, Caller caller, out Target target)
    {
        var raw = http.Request.Query["userId"];
        if (raw.Count > 1)
        {
            target = default;
            return Failure<RocketChatDialect>.BadRequest("userId given more than once");
        }
        return Targets.Read<RocketChatDialect>(caller, raw.Count == 0 ? null : raw[0] ?? "", out target);
    }

    /// <summary>
    /// ids in every form Rocket.Chat clients send: <c>ids=a,b</c>, repeated <c>ids=a&amp;ids=b</c>, <c>ids[]=a&amp;ids[]=b</c>,
    /// and a JSON array string <c>ids=["a","b"]</c>. Null when the call has no ids.
    /// </summary>
    private static (string[]? Ids, Failure<RocketChatDialect>? Error) ReadIds(IQueryCollection query)
    {
        var values = query["ids"].Concat(query["ids[]"]).ToArray();
        if (values.Length == 0)
        {
            return (null, null);
        }
        var ids = new List<string>();
        foreach (var value in values)
        {
            var text = value?.Trim() ?? "";
            if (text.StartsWith('['))
            {
                try
                {
                    ids.AddRange(JsonSerializer.Deserialize(text, RocketChatIdsJson.Default.StringArray) ?? []);
                }
                catch (JsonException)
                {
                    return (null, Failure<RocketChatDialect>.BadRequest("ids is not a valid JSON array of user ids"));
                }
            }
            else
            {
                ids.AddRange(text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
        }
        if (ids.Count > MaxIds)
        {
            return (null, Failure<RocketChatDialect>.BadRequest($"at most {MaxIds} ids per call"));
        }
        if (ids.Any(id => !PresenceKeys.IsValidId(id)))
        {
            return (null, Failure<RocketChatDialect>.BadRequest($"'{ids.First(id => !PresenceKeys.IsValidId(id))}' is not a valid user id"));
        }
        return ([.. ids.Distinct(StringComparer.Ordinal)], null);
    }

    private static readonly string[] FromFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mmK",
    ];

    /// <summary>ISO 8601; the time zone (UTC when absent), the seconds and the milliseconds are optional.</summary>
    public static bool TryParseFrom(string raw, out DateTimeOffset from)
        => DateTimeOffset.TryParseExact(raw.Trim(), FromFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out from);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class RocketChatIdsJson : System.Text.Json.Serialization.JsonSerializerContext;
