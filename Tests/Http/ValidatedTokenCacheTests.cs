using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using Presence.Gateway.Auth;

namespace Presence.Tests.Http;

public sealed class ValidatedTokenCacheTests
{
    private static readonly ClaimsPrincipal Principal = new(new ClaimsIdentity([new Claim("sub", "ann")], "test"));

    [Fact]
    public void A_cached_validation_is_used_only_until_the_token_stops_being_acceptable()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new ValidatedTokenCache(time);
        cache.Add("token", Principal, time.GetUtcNow().AddMinutes(1));
        Assert.True(cache.TryGet("token", out var principal));
        Assert.Same(Principal, principal);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(cache.TryGet("token", out _));
        Assert.False(cache.TryGet("other", out _));
    }

    [Fact]
    public void The_cache_is_bounded()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new ValidatedTokenCache(time, capacity: 10);
        for (var i = 0; i < 25; i++)
        {
            cache.Add($"t{i}", Principal, time.GetUtcNow().AddHours(1));
        }
        Assert.True(cache.Count <= 10);
        Assert.True(cache.TryGet("t24", out _));
    }
}
