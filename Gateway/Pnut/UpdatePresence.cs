using Presence.Gateway.Auth;
using Presence.Users;

namespace Presence.Gateway.Pnut;

/// <summary>
/// pnut's <c>update_presence</c>: on any authenticated call it updates the caller's global presence first and
/// reports the outcome in <c>meta.updated_presence</c>; an invalid value is reported as false and the call
/// itself goes on. Runs for endpoints marked <see cref="AppliesUpdatePresence"/> (pnut's), inside the failover retry;
/// the global PUT handles it itself (<see cref="HandlesUpdatePresence"/>) so it happens once.
/// </summary>
public sealed class UpdatePresence(RequestDelegate next, IPresenceGrains users)
{
    public const string Parameter = "update_presence";

    public Task InvokeAsync(HttpContext http)
    {
        var metadata = http.GetEndpoint()?.Metadata;
        return metadata?.GetMetadata<AppliesUpdatePresence>() is not null && metadata.GetMetadata<HandlesUpdatePresence>() is null
            && http.Request.QueryValue(Parameter).Count > 0
            ? ApplyThen(http)
            : next(http); // the common call: no state machine of its own
    }

    private async Task ApplyThen(HttpContext http)
    {
        await Apply(http, users);
        await next(http);
    }

    /// <summary>Applies the call's update_presence to the caller; null when the call has none.</summary>
    public static async Task<UserPresence?> Apply(HttpContext http, IPresenceGrains users)
    {
        var values = http.Request.QueryValue(Parameter);
        if (values.Count == 0)
        {
            return null;
        }
        var parsed = values.Count == 1 ? PresenceStatus.Parse(values[0]) : StatusParse.Invalid("update_presence given more than once");
        if (!parsed.IsValid)
        {
            PnutDialect.SetUpdatedPresence(http, false);
            return null;
        }
        var caller = Caller.Of(http);
        var presence = await users.User(caller.Tenant, caller.UserId)
            .Update(new PresenceUpdate(PresenceSources.Api, parsed.Status, null, caller.Profile));
        PnutDialect.SetUpdatedPresence(http, true);
        return presence;
    }
}

/// <summary>Endpoint metadata: the call applies <c>update_presence</c> (see <see cref="UpdatePresence"/>).</summary>
public sealed class AppliesUpdatePresence
{
    public static readonly AppliesUpdatePresence Instance = new();
}

/// <summary>Endpoint metadata: the handler applies update_presence itself.</summary>
public sealed class HandlesUpdatePresence
{
    public static readonly HandlesUpdatePresence Instance = new();
}
