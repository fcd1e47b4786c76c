using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Gateway.Auth;
using Presence.Gateway.Errors;
using Presence.Gateway.Hosting;
using Presence.Gateway.Realtime;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Pnut;

/// <summary>
/// The pnut.io presence API: global presence (<c>/v1</c>, and <c>/v0</c> for the three global routes), channel
/// presence and channel membership. Each handler parses and validates, makes one grain call and maps back.
/// </summary>
public static class PnutApi
{
    public static WebApplication MapPnutApi(this WebApplication app)
    {
        var dialects = app.Services.GetRequiredService<DialectRegistry>();
        dialects.Add("/v1", PnutErrors.Instance);
        dialects.Add("/v0", PnutErrors.Instance);

        // The hot handlers get their singletons here rather than as parameters: a service parameter is resolved from
        // the request's service scope, and creating that scope (with its dictionary) was a tenth of a read's allocations.
        var users = app.Services.GetRequiredService<UserGrains>();
        var limits = app.Services.GetRequiredService<IOptions<GatewayHttpOptions>>();
        Func<HttpContext, string, Task<Results<PnutOk<PnutUserPresence>, PnutError>>> get = (http, user_id) => GetUserPresence(http, users, user_id);
        Func<HttpContext, string, Task<Results<PnutOk<PnutUserPresence>, PnutError>>> put = (http, user_id) => PutUserPresence(http, users, limits, user_id);

        var v1 = Group(app, "/v1");
        MapGlobal(v1, "", get, put);
        v1.MapGet("/presence/{user_id}", get).WithName("GetUserPresenceAlias");
        v1.MapGet("/channels/{channel_id}/presence", ListChannelPresence).WithName("ListChannelPresence");
        v1.MapGet("/users/{user_id}/presence/channels/{channel_id}", GetChannelPresence).WithName("GetChannelPresence");
        v1.MapPut("/users/{user_id}/presence/channels/{channel_id}", PutChannelPresence).WithName("PutChannelPresence");
        v1.MapPut("/channels/{channel_id}/subscribe", Subscribe).WithName("SubscribeChannel");
        v1.MapDelete("/channels/{channel_id}/subscribe", Unsubscribe).WithName("UnsubscribeChannel");
        v1.MapGet("/channels/{channel_id}/subscribers", ListSubscribers).WithName("ListChannelSubscribers");

        var v0 = Group(app, "/v0");
        MapGlobal(v0, "V0", get, put);
        v0.MapGet("/presence/{user_id}", get).WithName("GetUserPresenceAliasV0");
        return app;
    }

    private static RouteGroupBuilder Group(WebApplication app, string prefix) => app.MapGroup(prefix)
        .RequireAuthorization()
        .WithTags("pnut")
        .WithMetadata(new DialectMetadata(PnutErrors.Instance))
        .WithMetadata(RetriedOnFailover.Instance, AppliesUpdatePresence.Instance);

    private static void MapGlobal(RouteGroupBuilder group, string suffix, Delegate get, Delegate put)
    {
        group.MapGet("/presence", ListOnline).WithName("ListOnline" + suffix);
        group.MapGet("/users/{user_id}/presence", get).WithName("GetUserPresence" + suffix);
        group.MapPut("/users/{user_id}/presence", put).WithName("PutUserPresence" + suffix)
            .WithMetadata(HandlesUpdatePresence.Instance);
    }

    public static async Task<Results<PnutOk<PnutUserPresence[]>, PnutError>> ListOnline(HttpContext http, IGrainFactory grains)
    {
        var caller = Caller.Of(http);
        if (PnutPaging.TryRead(http.Request, out var count, out var before) is { } error)
        {
            return error;
        }
        if (!PnutPaging.TryDecode(before, out DirectoryCursor? cursor))
        {
            return PnutPaging.InvalidCursor();
        }
        var page = await grains.GetGrain<IPresenceDirectoryGrain>(caller.Tenant).ListOnline(cursor, count, http.RequestAborted);
        return new PnutOk<PnutUserPresence[]>([.. page.Users.Select(u => u.ToPnut())])
        {
            More = page.Next is not null,
            MinId = page.Next is { } next ? PnutPaging.Encode(next) : null,
        };
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, PnutError>> GetUserPresence(HttpContext http, UserGrains users, string user_id)
    {
        var caller = Caller.Of(http);
        if (UserTarget(caller, user_id, out var userId) is { } error)
        {
            return error;
        }
        var presence = await users.Get(caller.Tenant, userId, own: userId == caller.UserId, http.RequestAborted);
        return new PnutOk<PnutUserPresence>(presence.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, PnutError>> PutUserPresence(
        HttpContext http, UserGrains users, IOptions<GatewayHttpOptions> limits, string user_id)
    {
        var caller = Caller.Of(http);
        if (UserTarget(caller, user_id, out var userId) is { } error)
        {
            return error;
        }
        if (!caller.MayActFor(userId))
        {
            return PnutError.Forbidden("you may only update your own presence");
        }
        var (parameters, bodyError) = await PnutParameters.ReadAsync(http.Request, limits.Value.MaxBodyBytes, http.RequestAborted);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (!parameters!.TryGet("presence", out var raw, out var paramError) || !parameters.TryGetFlag("invisible", out var invisible, out paramError))
        {
            return PnutError.BadRequest(paramError!);
        }
        var status = PresenceStatus.Parse(raw);
        if (!status.IsValid)
        {
            return PnutError.BadRequest(status.Error!);
        }
        var user = users.For(caller.Tenant, userId);
        UserPresence? presence = null;
        if (invisible is { } flag)
        {
            // Stream's invisible: persists until set false; a call that carries only it changes nothing else.
            presence = await user.SetInvisible(flag, http.RequestAborted);
            if (!parameters.Has("presence") && !http.Request.Query.ContainsKey(UpdatePresence.Parameter))
            {
                return new PnutOk<PnutUserPresence>(presence.ToPnut());
            }
        }
        // pnut: update_presence on this call overrides it, and the update does not happen twice.
        if (await UpdatePresence.Apply(http, users) is { } updated && userId == caller.UserId)
        {
            return new PnutOk<PnutUserPresence>(updated.ToPnut());
        }
        var profile = userId == caller.UserId ? caller.Profile : null;
        presence = await user.Update(new PresenceUpdate(PresenceSources.Api, status.Status, null, profile), http.RequestAborted);
        return new PnutOk<PnutUserPresence>(presence.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence[]>, PnutError>> ListChannelPresence(
        HttpContext http, IGrainFactory grains, ChannelTypes channelTypes, string channel_id)
    {
        var caller = Caller.Of(http);
        if (ChannelTarget(channel_id) is { } error)
        {
            return error;
        }
        if (PnutPaging.TryRead(http.Request, out var count, out var before) is { } pagingError)
        {
            return pagingError;
        }
        if (!PnutPaging.TryDecode(before, out string? after))
        {
            return PnutPaging.InvalidCursor();
        }
        if (!channelTypes.IsEnabled(channel_id))
        {
            return PagedMembers(new ChannelPage([], false), includePresence: true); // no member presence in it
        }
        var page = await Channel(grains, caller, channel_id).ListPresent(after, count, http.RequestAborted);
        return PagedMembers(page, includePresence: true);
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, PnutError>> GetChannelPresence(
        HttpContext http, IGrainFactory grains, ChannelTypes channelTypes, string user_id, string channel_id)
    {
        var caller = Caller.Of(http);
        if ((UserTarget(caller, user_id, out var userId) ?? ChannelTarget(channel_id)) is { } error)
        {
            return error;
        }
        if (!channelTypes.IsEnabled(channel_id))
        {
            return new PnutOk<PnutUserPresence>(new ChannelMember(userId, UserProfile.Empty, PresenceStatus.Offline, null, false).ToPnut());
        }
        var member = await Channel(grains, caller, channel_id).GetMember(userId, own: userId == caller.UserId, http.RequestAborted);
        return new PnutOk<PnutUserPresence>(member.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, PnutError>> PutChannelPresence(
        HttpContext http, UserGrains users, IOptions<GatewayHttpOptions> limits, ChannelTypes channelTypes, string user_id, string channel_id)
    {
        var caller = Caller.Of(http);
        if ((UserTarget(caller, user_id, out var userId) ?? ChannelTarget(channel_id)) is { } error)
        {
            return error;
        }
        if (!caller.MayActFor(userId))
        {
            return PnutError.Forbidden("you may only update your own presence");
        }
        if (!channelTypes.IsEnabled(channel_id))
        {
            return PnutError.BadRequest($"presence is disabled for channels of type '{ChannelTypes.TypeOf(channel_id)}'");
        }
        var (parameters, bodyError) = await PnutParameters.ReadAsync(http.Request, limits.Value.MaxBodyBytes, http.RequestAborted);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (!parameters!.TryGet("presence", out var raw, out var paramError) || !parameters.TryGet("expiration", out var expiration, out paramError))
        {
            return PnutError.BadRequest(paramError!);
        }
        var status = PresenceStatus.Parse(raw);
        if (!status.IsValid)
        {
            return PnutError.BadRequest(status.Error!);
        }
        if (!TryParseExpiration(expiration, out var expiresAt))
        {
            return PnutError.BadRequest("expiration must be a unix timestamp in whole seconds");
        }
        var profile = userId == caller.UserId ? caller.Profile : null;
        // Through the user: it hides the channel presence while the user is invisible.
        var member = await users.For(caller.Tenant, userId)
            .SetChannelPresence(channel_id, new ChannelPresenceUpdate(userId, status.Status, expiresAt, profile), http.RequestAborted);
        return new PnutOk<PnutUserPresence>(member.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutChannel>, PnutError>> Subscribe(HttpContext http, IGrainFactory grains, string channel_id)
    {
        var caller = Caller.Of(http);
        if (ChannelTarget(channel_id) is { } error)
        {
            return error;
        }
        var channel = await Channel(grains, caller, channel_id).Subscribe(caller.UserId, caller.Profile, http.RequestAborted);
        return new PnutOk<PnutChannel>(channel.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutChannel>, PnutError>> Unsubscribe(HttpContext http, IGrainFactory grains, string channel_id)
    {
        var caller = Caller.Of(http);
        if (ChannelTarget(channel_id) is { } error)
        {
            return error;
        }
        var channel = await Channel(grains, caller, channel_id).Unsubscribe(caller.UserId, http.RequestAborted);
        return new PnutOk<PnutChannel>(channel.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence[]>, PnutError>> ListSubscribers(
        HttpContext http, IGrainFactory grains, ChannelTypes channelTypes, string channel_id)
    {
        var caller = Caller.Of(http);
        if (ChannelTarget(channel_id) is { } error)
        {
            return error;
        }
        if (PnutPaging.TryRead(http.Request, out var count, out var before) is { } pagingError)
        {
            return pagingError;
        }
        if (!PnutPaging.TryDecode(before, out string? after))
        {
            return PnutPaging.InvalidCursor();
        }
        // No member presence in a channel whose type has presence switched off.
        var includePresence = http.Request.Query["include_presence"] is var flag && (flag == "1" || flag == "true") && channelTypes.IsEnabled(channel_id);
        var page = await Channel(grains, caller, channel_id).ListSubscribers(after, count, http.RequestAborted);
        return PagedMembers(page, includePresence);
    }

    private static PnutOk<PnutUserPresence[]> PagedMembers(ChannelPage page, bool includePresence) => new([.. page.Members.Select(m => m.ToPnut(includePresence))])
    {
        More = page.More,
        MinId = page.More ? PnutPaging.Encode(page.Members[^1].UserId) : null,
    };

    private static PnutError? UserTarget(Caller caller, string routeUserId, out string userId)
    {
        userId = caller.Resolve(routeUserId);
        if (routeUserId.StartsWith('@'))
        {
            return PnutError.BadRequest("user ids only: @username lookups are not supported");
        }
        return PresenceKeys.IsValidId(userId) ? null
            : PnutError.BadRequest($"invalid user id: 1-{PresenceKeys.MaxIdLength} letters, digits, '_', '.', ':', '-', '@'");
    }

    private static PnutError? ChannelTarget(string channelId) => PresenceKeys.IsValidId(channelId, PresenceKeys.MaxChannelIdLength) ? null
        : PnutError.BadRequest($"invalid channel id: 1-{PresenceKeys.MaxChannelIdLength} letters, digits, '_', '.', ':', '-', '@'");

    /// <summary>Unix seconds; absent means the default expiry. Far-future values are clamped by the channel grain.</summary>
    private static bool TryParseExpiration(string? raw, out DateTimeOffset? expiresAt)
    {
        expiresAt = null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            return true;
        }
        raw = raw.Trim();
        var digits = raw.StartsWith('-') ? raw.AsSpan(1) : raw.AsSpan();
        if (digits.IsEmpty || digits.ContainsAnyExceptInRange('0', '9'))
        {
            return false;
        }
        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            seconds = raw.StartsWith('-') ? long.MinValue : long.MaxValue; // beyond long: far past or far future
        }
        var min = DateTimeOffset.MinValue.ToUnixTimeSeconds();
        var max = DateTimeOffset.MaxValue.ToUnixTimeSeconds();
        expiresAt = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, min, max));
        return true;
    }

    private static IChannelPresenceGrain Channel(IGrainFactory grains, Caller caller, string channelId)
        => grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(caller.Tenant, channelId));
}
