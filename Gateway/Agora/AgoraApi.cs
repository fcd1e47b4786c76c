using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Presence.Gateway.Auth;
using Presence.Grains.Hosting;
using Presence.Gateway.Hosting;
using Presence.Index;
using Presence.Subscriptions;
using Presence.Users;

namespace Presence.Gateway.Agora;

/// <summary>
/// The Agora Chat presence REST API under <c>/{org_name}/{app_name}/users/{uid}/presence</c>. The tenant is
/// "{org_name}/{app_name}" and must be the token's; a device resource is one more presence source of the user.
/// </summary>
public static class AgoraApi
{
    public const int MaxUsernames = 100;
    public const int MaxExtBytes = 64;
    public const int MaxExpirySeconds = 2_592_000;
    public const int MaxPageSize = 500;

    private static readonly HashSet<string> DeviceTypes = new(StringComparer.Ordinal) { "android", "ios", "web", "windows", "macos", "linux", "harmonyos", "unknown" };

    /// <summary>Agora's options and its per-app call limit (<see cref="AgoraCallLimit"/>).</summary>
    public static WebApplicationBuilder AddAgora(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AgoraOptions>().BindConfiguration(AgoraOptions.Section)
            .Validate(o => o.CallsPerSecond > 0, $"{AgoraOptions.Section}:CallsPerSecond must be positive.")
            .Validate(o => o.DeviceTtl > TimeSpan.Zero, $"{AgoraOptions.Section}:DeviceTtl must be a positive duration.")
            .ValidateOnStart();
        builder.Services.AddSingleton(services => new AgoraCallLimit(services.GetRequiredService<IOptions<AgoraOptions>>(), TimeProvider.System));
        return builder;
    }

    public static WebApplication MapAgoraApi(this WebApplication app)
    {
        var presence = app.MapDialect<AgoraDialect>("/{org_name}/{app_name}/users/{uid}/presence")
            .WithMetadata(AgoraCallLimit.Limited.Instance)
            .WithMetadata(RetriedOnFailover.Instance)
            .AddEndpointFilter(CheckAccess);
        presence.MapPost("/{resource}/{status}", SetStatus).WithName("AgoraSetStatus").ReadsBody<AgoraDialect>();
        presence.MapPost("", GetStatuses).WithName("AgoraGetStatuses").ReadsBody<AgoraDialect>();
        presence.MapPost("/{expiry}", Subscribe).WithName("AgoraSubscribe").ReadsBody<AgoraDialect>();
        presence.MapDelete("", Unsubscribe).WithName("AgoraUnsubscribe").ReadsBody<AgoraDialect>();
        presence.MapGet("/sublist", ListSubscriptions).WithName("AgoraListSubscriptions");
        return app;
    }

    /// <summary>The token must be of this app; a user token may only act for its own uid, an admin (app) token for any.</summary>
    private static async ValueTask<object?> CheckAccess(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var caller = Caller.Of(http);
        var tenant = $"{http.Request.RouteValues["org_name"]}/{http.Request.RouteValues["app_name"]}";
        if (!PresenceKeys.IsValidTenant(tenant))
        {
            return Failure<AgoraDialect>.BadRequest("org_name and app_name must be letters, digits, '_', '.' or '-'");
        }
        if (caller.Tenant != tenant)
        {
            return Failure<AgoraDialect>.Forbidden("the token does not belong to this app");
        }
        // Every route acts for the uid: reads of a user's subscriptions as much as its status.
        return Targets.Write<AgoraDialect>(caller, http.Request.RouteValues["uid"] as string, out _) ?? await next(context);
    }

    public static async Task<Results<AgoraOk<string>, Failure<AgoraDialect>>> SetStatus(
        HttpContext http, IPresenceGrains users, IOptions<AgoraOptions> options, IOptions<GatewayHttpOptions> limits, string uid, string resource, string status)
    {
        if (!IsValidResource(resource))
        {
            return Failure<AgoraDialect>.BadRequest("resource must be {device type}_{resource id}, e.g. android_123 (device types: " + string.Join(", ", DeviceTypes.Order()) + ")");
        }
        var parsed = PresenceStatus.Parse(status);
        if (!parsed.IsValid)
        {
            return Failure<AgoraDialect>.BadRequest(parsed.Error!.Replace("presence", "status", StringComparison.Ordinal));
        }
        var (body, failure) = await RequestBody.ReadJsonAsync<AgoraDialect>(http, limits.Value.MaxBodyBytes);
        if (failure is not null)
        {
            return failure;
        }
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("ext", out var extElement) || extElement.ValueKind != JsonValueKind.String)
        {
            return Failure<AgoraDialect>.BadRequest("the body must be a JSON object with a string field ext");
        }
        var ext = extElement.GetString()!;
        if (Encoding.UTF8.GetByteCount(ext) > MaxExtBytes)
        {
            return Failure<AgoraDialect>.BadRequest($"ext is limited to {MaxExtBytes} bytes (UTF-8), got {Encoding.UTF8.GetByteCount(ext)}");
        }
        var caller = Caller.Of(http);
        var target = Targets.Of(caller, uid); // checked by CheckAccess
        await users.User(caller.Tenant, target.UserId).SetDevice(new DeviceUpdate(resource, parsed.Status, ext, options.Value.DeviceTtl, target.Profile), http.RequestAborted);
        return new AgoraOk<string>("ok");
    }

    public static async Task<Results<AgoraOk<AgoraPresence[]>, Failure<AgoraDialect>>> GetStatuses(HttpContext http, IPresenceGrains presence, IOptions<GatewayHttpOptions> limits)
    {
        var (usernames, failure) = await ReadUsernames(http, limits.Value.MaxBodyBytes, "usernames");
        if (failure is not null)
        {
            return failure;
        }
        var caller = Caller.Of(http);
        var details = await presence.GetDetails(caller.Tenant, usernames!, http.RequestAborted);
        return new AgoraOk<AgoraPresence[]>([.. details.Select(d => ToAgora(d, expiry: null))]);
    }

    public static async Task<Results<AgoraOk<AgoraPresence[]>, Failure<AgoraDialect>>> Subscribe(
        HttpContext http, IGrainFactory grains, IPresenceGrains presence, IOptions<GatewayHttpOptions> limits, string uid, string expiry)
    {
        if (!int.TryParse(expiry, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds < 1 || seconds > MaxExpirySeconds)
        {
            return Failure<AgoraDialect>.BadRequest($"expiry must be a whole number of seconds from 1 to {MaxExpirySeconds}");
        }
        var (usernames, failure) = await ReadUsernames(http, limits.Value.MaxBodyBytes, "usernames");
        if (failure is not null)
        {
            return failure;
        }
        var caller = Caller.Of(http);
        var result = await Subscriptions(grains, caller, uid).Subscribe(usernames!, TimeSpan.FromSeconds(seconds), http.RequestAborted);
        if (result.Expiry is not { } until)
        {
            return Failure<AgoraDialect>.BadRequest($"a user can subscribe to at most {result.Limit} users (has {result.Total})");
        }
        var details = await presence.GetDetails(caller.Tenant, usernames!, http.RequestAborted);
        var expiryText = until.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return new AgoraOk<AgoraPresence[]>([.. details.Select(d => ToAgora(d, expiryText))]);
    }

    public static async Task<Results<AgoraOk<string>, Failure<AgoraDialect>>> Unsubscribe(HttpContext http, IGrainFactory grains, IOptions<GatewayHttpOptions> limits, string uid)
    {
        var (users, failure) = await ReadUsernames(http, limits.Value.MaxBodyBytes, "users");
        if (failure is not null)
        {
            return failure;
        }
        await Subscriptions(grains, Caller.Of(http), uid).Unsubscribe(users!, http.RequestAborted);
        return new AgoraOk<string>("ok");
    }

    public static async Task<Results<AgoraOk<AgoraSubscriptionList>, Failure<AgoraDialect>>> ListSubscriptions(HttpContext http, IGrainFactory grains, string uid)
    {
        if (!TryPositive(http.Request.Query["pageNum"], int.MaxValue, out var pageNum))
        {
            return Failure<AgoraDialect>.BadRequest("pageNum must be a whole number from 1");
        }
        if (!TryPositive(http.Request.Query["pageSize"], MaxPageSize, out var pageSize))
        {
            return Failure<AgoraDialect>.BadRequest($"pageSize must be a whole number from 1 to {MaxPageSize}");
        }
        var skip = (long)(pageNum - 1) * pageSize;
        var page = await Subscriptions(grains, Caller.Of(http), uid).List((int)Math.Min(skip, int.MaxValue), pageSize, http.RequestAborted);
        return new AgoraOk<AgoraSubscriptionList>(new AgoraSubscriptionList(
            page.Total.ToString(CultureInfo.InvariantCulture),
            [.. page.Items.Select(s => new AgoraSubscription(s.UserId, s.Expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)))]));
    }

    /// <summary>
    /// The one model in Agora's shape: each source keyed by its resource (devices by their resource, an API-set status
    /// as "api", open realtime streams as "stream"); "1" online, "0" offline, else the custom status.
    /// </summary>
    private static AgoraPresence ToAgora(PresenceDetail detail, string? expiry)
    {
        var status = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in detail.Sources)
        {
            var key = source.Source.StartsWith(PresenceSources.DevicePrefix, StringComparison.Ordinal)
                ? source.Source[PresenceSources.DevicePrefix.Length..]
                : source.Source.Split(':')[0];
            var value = source.Status switch { null => "0", PresenceStatus.Online => "1", var custom => custom };
            // Several live streams read as one "stream": online if any is.
            if (!status.TryGetValue(key, out var existing) || existing == "0")
            {
                status[key] = value;
            }
        }
        var lastTime = detail.LastSeenAt is { } seen ? seen.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) : "0";
        return new AgoraPresence(detail.UserId, lastTime, expiry, detail.Ext, status);
    }

    private static bool IsValidResource(string resource)
    {
        var underscore = resource.IndexOf('_');
        if (underscore <= 0 || underscore == resource.Length - 1 || resource.Length > PresenceKeys.MaxIdLength || !DeviceTypes.Contains(resource[..underscore]))
        {
            return false;
        }
        foreach (var c in resource.AsSpan(underscore + 1))
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A list of user ids: a bare JSON array, or an object with the array under <paramref name="field"/>.</summary>
    private static async Task<(string[]? Ids, Failure<AgoraDialect>? Failure)> ReadUsernames(HttpContext http, int maxBytes, string field)
    {
        var (body, failure) = await RequestBody.ReadJsonAsync<AgoraDialect>(http, maxBytes);
        if (failure is not null)
        {
            return (null, failure);
        }
        var array = body.ValueKind == JsonValueKind.Array ? body
            : body.ValueKind == JsonValueKind.Object && body.TryGetProperty(field, out var inner) && inner.ValueKind == JsonValueKind.Array ? inner
            : default;
        if (array.ValueKind != JsonValueKind.Array)
        {
            return (null, Failure<AgoraDialect>.BadRequest($"the body must be {{\"{field}\": [\"user1\", ...]}} or a JSON array of user ids"));
        }
        if (array.GetArrayLength() is 0 or > MaxUsernames)
        {
            return (null, Failure<AgoraDialect>.BadRequest($"{field} must list 1 to {MaxUsernames} users, got {array.GetArrayLength()}"));
        }
        var ids = new string[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !PresenceKeys.IsValidId(item.GetString()))
            {
                return (null, Failure<AgoraDialect>.BadRequest($"{field}[{i}] is not a valid user id"));
            }
            ids[i++] = item.GetString()!;
        }
        return (ids, null);
    }

    private static bool TryPositive(Microsoft.Extensions.Primitives.StringValues raw, int max, out int value)
    {
        value = 0;
        return raw.Count == 1 && int.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1 && value <= max;
    }

    private static IPresenceSubscriptionsGrain Subscriptions(IGrainFactory grains, Caller caller, string uid)
        => grains.GetGrain<IPresenceSubscriptionsGrain>(PresenceKeys.Of(caller.Tenant, Targets.Of(caller, uid).UserId));
}
