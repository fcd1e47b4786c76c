using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using Presence.Gateway.Auth;

namespace Presence.Tests.Http;

public sealed class ValidatedTokenCacheTests
{
    private static readonly ClaimsPrincipal Principal = new(new ClaimsIdentity([new Claim("sub", "ann")], "test"));
    private static readonly Caller Ann = Caller.FromPrincipal(Principal)!;

    [Fact]
    public void A_cached_validation_is_used_only_until_the_token_stops_being_acceptable()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new ValidatedTokenCache(time);
        cache.Add("token", Principal, Ann, time.GetUtcNow().AddMinutes(1));
        Assert.True(cache.TryGet("token", out var principal, out var caller));
        Assert.Same(Principal, principal);
        Assert.Same(Ann, caller);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(cache.TryGet("token", out _, out _));
        Assert.False(cache.TryGet("other", out _, out _));
    }

    [Fact]
    public void The_cache_is_bounded()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new ValidatedTokenCache(time, capacity: 10);
        for (var i = 0; i < 25; i++)
        {
            cache.Add($"t{i}", Principal, Ann, time.GetUtcNow().AddHours(1));
        }
        Assert.True(cache.Count <= 10);
        Assert.True(cache.TryGet("t24", out _, out _));
    }
}
