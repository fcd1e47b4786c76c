using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Presence.Channels;
using Presence.Gateway.Auth;
using Presence.Gateway.Hosting;
using Presence.Gateway.Realtime;
using Presence.Index;
using Presence.Users;

namespace Presence.Gateway.Pnut;

/// <summary>
/// The pnut.io presence API: global presence (<c>/v1</c>, and <c>/v0</c> for the three global routes), channel
/// presence and channel membership. Each handler parses and validates, calls the grains and maps back: one call for
/// most; the global PUT can make three (invisible, update_presence, the update), and a read of an online user none
/// when its shard is in this process.
/// </summary>
public static class PnutApi
{
    public static WebApplication MapPnutApi(this WebApplication app)
    {
        // The hot handlers get their singletons here rather than as parameters: a service parameter is resolved from
        // the request's service scope, which is then created (with its dictionary) for the request.
        var users = app.Services.GetRequiredService<IPresenceGrains>();
        var limits = app.Services.GetRequiredService<IOptions<GatewayHttpOptions>>();
        Func<HttpContext, string, Task<Results<PnutOk<PnutUserPresence>, Failure<PnutDialect>>>> get = (http, user_id) => GetUserPresence(http, users, user_id);
        Func<HttpContext, string, Task<Results<PnutOk<PnutUserPresence>, Failure<PnutDialect>>>> put = (http, user_id) => PutUserPresence(http, users, limits, user_id);

        var v1 = Group(app, "/v1");
        MapGlobal(v1, "", get, put);
        v1.MapGet("/presence/{user_id}", get).WithName("GetUserPresenceAlias");
        v1.MapGet("/channels/{channel_id}/presence", ListChannelPresence).WithName("ListChannelPresence");
        v1.MapGet("/users/{user_id}/presence/channels/{channel_id}", GetChannelPresence).WithName("GetChannelPresence");
        v1.MapPut("/users/{user_id}/presence/channels/{channel_id}", PutChannelPresence).WithName("PutChannelPresence")
            .ReadsBody<PnutDialect>().Refuses<PnutDialect>(StatusCodes.Status403Forbidden); // another user's; a full channel
        v1.MapPut("/channels/{channel_id}/subscribe", Subscribe).WithName("SubscribeChannel")
            .Refuses<PnutDialect>(StatusCodes.Status403Forbidden); // a full channel
        v1.MapDelete("/channels/{channel_id}/subscribe", Unsubscribe).WithName("UnsubscribeChannel");
        v1.MapGet("/channels/{channel_id}/subscribers", ListSubscribers).WithName("ListChannelSubscribers");

        var v0 = Group(app, "/v0");
        MapGlobal(v0, "V0", get, put);
        v0.MapGet("/presence/{user_id}", get).WithName("GetUserPresenceAliasV0");
        return app;
    }

    private static RouteGroupBuilder Group(WebApplication app, string prefix) => app.MapDialect<PnutDialect>(prefix)
        .WithMetadata(RetriedOnFailover.Instance, AppliesUpdatePresence.Instance);

    private static void MapGlobal(RouteGroupBuilder group, string suffix, Delegate get, Delegate put)
    {
        group.MapGet("/presence", ListOnline).WithName("ListOnline" + suffix);
        group.MapGet("/users/{user_id}/presence", get).WithName("GetUserPresence" + suffix);
        group.MapPut("/users/{user_id}/presence", put).WithName("PutUserPresence" + suffix)
            .ReadsBody<PnutDialect>().Refuses<PnutDialect>(StatusCodes.Status403Forbidden) // another user's
            .WithMetadata(HandlesUpdatePresence.Instance);
    }

    public static async Task<Results<PnutOk<PnutUserPresence[]>, Failure<PnutDialect>>> ListOnline(HttpContext http, IPresenceGrains presence)
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
        var page = await presence.ListOnline(caller.Tenant, cursor, count, http.RequestAborted);
        return new PnutOk<PnutUserPresence[]>([.. page.Users.Select(u => u.ToPnut())])
        {
            More = page.Next is not null,
            MinId = page.Next is { } next ? PnutPaging.Encode(next) : null,
        };
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, Failure<PnutDialect>>> GetUserPresence(HttpContext http, IPresenceGrains users, string user_id)
    {
        var caller = Caller.Of(http);
        if (Targets.Read<PnutDialect>(caller, user_id, out var target) is { } error)
        {
            return error;
        }
        var presence = await users.Get(caller.Tenant, target.UserId, target.Own, http.RequestAborted);
        return new PnutOk<PnutUserPresence>(presence.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, Failure<PnutDialect>>> PutUserPresence(
        HttpContext http, IPresenceGrains users, IOptions<GatewayHttpOptions> limits, string user_id)
    {
        var caller = Caller.Of(http);
        if (Targets.Write<PnutDialect>(caller, user_id, out var target) is { } error)
        {
            return error;
        }
        var (parameters, bodyError) = await PnutParameters.ReadAsync(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (!parameters!.TryGet("presence", out var raw, out var paramError) || !parameters.TryGetFlag("invisible", out var invisible, out paramError))
        {
            return Failure<PnutDialect>.BadRequest(paramError!);
        }
        var status = PresenceStatus.Parse(raw);
        if (!status.IsValid)
        {
            return Failure<PnutDialect>.BadRequest(status.Error!);
        }
        var user = users.User(caller.Tenant, target.UserId);
        UserPresence? presence = null;
        if (invisible is { } flag)
        {
            // Stream's invisible: persists until set false; a call that carries only it changes nothing else.
            presence = await user.SetInvisible(flag, http.RequestAborted);
            if (!parameters.Has("presence") && http.Request.QueryValue(UpdatePresence.Parameter).Count == 0)
            {
                return new PnutOk<PnutUserPresence>(presence.ToPnut());
            }
        }
        // pnut: update_presence on this call overrides it, and the update does not happen twice.
        if (await UpdatePresence.Apply(http, users) is { } updated && target.Own)
        {
            return new PnutOk<PnutUserPresence>(updated.ToPnut());
        }
        presence = await user.Update(new PresenceUpdate(PresenceSources.Api, status.Status, null, target.Profile));
        return new PnutOk<PnutUserPresence>(presence.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence[]>, Failure<PnutDialect>>> ListChannelPresence(
        HttpContext http, IGrainFactory grains, ChannelTypes channelTypes, string channel_id)
    {
        var caller = Caller.Of(http);
        if (Targets.Channel<PnutDialect>(channel_id) is { } error)
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

    public static async Task<Results<PnutOk<PnutUserPresence>, Failure<PnutDialect>>> GetChannelPresence(
        HttpContext http, IGrainFactory grains, ChannelTypes channelTypes, string user_id, string channel_id)
    {
        var caller = Caller.Of(http);
        if ((Targets.Read<PnutDialect>(caller, user_id, out var target) ?? Targets.Channel<PnutDialect>(channel_id)) is { } error)
        {
            return error;
        }
        if (!channelTypes.IsEnabled(channel_id))
        {
            return new PnutOk<PnutUserPresence>(new ChannelMember(target.UserId, UserProfile.Empty, PresenceStatus.Offline, null, false).ToPnut());
        }
        var member = await Channel(grains, caller, channel_id).GetMember(target.UserId, target.Own, http.RequestAborted);
        return new PnutOk<PnutUserPresence>(member.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence>, Failure<PnutDialect>>> PutChannelPresence(
        HttpContext http, IPresenceGrains users, IOptions<GatewayHttpOptions> limits, ChannelTypes channelTypes, string user_id, string channel_id)
    {
        var caller = Caller.Of(http);
        if ((Targets.Write<PnutDialect>(caller, user_id, out var target) ?? Targets.Channel<PnutDialect>(channel_id)) is { } error)
        {
            return error;
        }
        if (!channelTypes.IsEnabled(channel_id))
        {
            return Failure<PnutDialect>.BadRequest($"presence is disabled for channels of type '{ChannelTypes.TypeOf(channel_id)}'");
        }
        var (parameters, bodyError) = await PnutParameters.ReadAsync(http, limits.Value.MaxBodyBytes);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (!parameters!.TryGet("presence", out var raw, out var paramError) || !parameters.TryGet("expiration", out var expiration, out paramError))
        {
            return Failure<PnutDialect>.BadRequest(paramError!);
        }
        var status = PresenceStatus.Parse(raw);
        if (!status.IsValid)
        {
            return Failure<PnutDialect>.BadRequest(status.Error!);
        }
        if (!TryParseExpiration(expiration, out var expiresAt))
        {
            return Failure<PnutDialect>.BadRequest("expiration must be a unix timestamp in whole seconds");
        }
        // Through the user: it hides the channel presence while the user is invisible.
        var member = await users.User(caller.Tenant, target.UserId)
            .SetChannelPresence(channel_id, new ChannelPresenceUpdate(target.UserId, status.Status, expiresAt, target.Profile), http.RequestAborted);
        return new PnutOk<PnutUserPresence>(member.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutChannel>, Failure<PnutDialect>>> Subscribe(HttpContext http, IGrainFactory grains, string channel_id)
    {
        var caller = Caller.Of(http);
        if (Targets.Channel<PnutDialect>(channel_id) is { } error)
        {
            return error;
        }
        var channel = await Channel(grains, caller, channel_id).Subscribe(caller.UserId, caller.Profile, http.RequestAborted);
        return new PnutOk<PnutChannel>(channel.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutChannel>, Failure<PnutDialect>>> Unsubscribe(HttpContext http, IGrainFactory grains, string channel_id)
    {
        var caller = Caller.Of(http);
        if (Targets.Channel<PnutDialect>(channel_id) is { } error)
        {
            return error;
        }
        var channel = await Channel(grains, caller, channel_id).Unsubscribe(caller.UserId, http.RequestAborted);
        return new PnutOk<PnutChannel>(channel.ToPnut());
    }

    public static async Task<Results<PnutOk<PnutUserPresence[]>, Failure<PnutDialect>>> ListSubscribers(
        HttpContext http, IGrainFactory grains, ChannelTypes channelTypes, string channel_id)
    {
        var caller = Caller.Of(http);
        if (Targets.Channel<PnutDialect>(channel_id) is { } error)
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
