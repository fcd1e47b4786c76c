using Presence.Gateway.Auth;
using Presence.Users;

namespace Presence.Gateway.Pnut;

/// <summary>
/// pnut's <c>update_presence</c>: on any authenticated call it updates the caller's global presence first and
/// reports the outcome in <c>meta.updated_presence</c>; an invalid value is reported as false and the call
/// itself goes on. The global PUT handles it itself (<see cref="HandlesUpdatePresence"/>) so it happens once.
/// </summary>
public sealed class UpdatePresenceFilter(Hosting.UserGrains users) : IEndpointFilter
{
    public const string Parameter = "update_presence";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        return http.Request.Query.ContainsKey(Parameter) && http.GetEndpoint()?.Metadata.GetMetadata<HandlesUpdatePresence>() is null
            ? ApplyThen(context, next)
            : next(context); // the common call: no state machine of its own
    }

    private async ValueTask<object?> ApplyThen(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        await Apply(context.HttpContext, users);
        return await next(context);
    }

    /// <summary>Applies the call's update_presence to the caller; null when the call has none.</summary>
    public static async Task<UserPresence?> Apply(HttpContext http, Hosting.UserGrains users)
    {
        var values = http.Request.Query[Parameter];
        if (values.Count == 0)
        {
            return null;
        }
        var parsed = values.Count == 1 ? PresenceStatus.Parse(values[0]) : StatusParse.Invalid("update_presence given more than once");
        if (!parsed.IsValid)
        {
            PnutWriter.SetUpdatedPresence(http, false);
            return null;
        }
        var caller = Caller.Of(http);
        var presence = await users.For(caller.Tenant, caller.UserId)
            .Update(new PresenceUpdate(PresenceSources.Api, parsed.Status, null, caller.Profile), http.RequestAborted);
        PnutWriter.SetUpdatedPresence(http, true);
        return presence;
    }
}

/// <summary>Endpoint metadata: the handler applies update_presence itself.</summary>
public sealed class HandlesUpdatePresence
{
    public static readonly HandlesUpdatePresence Instance = new();
}
