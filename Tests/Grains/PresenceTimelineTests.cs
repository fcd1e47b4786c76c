using Presence.Grains.Users;

namespace Presence.Tests.Grains;

public sealed class PresenceTimelineTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static PresenceSource Source(string status, int updatedSecondsAgo, int expiresInSeconds)
        => new(status, Now.AddSeconds(-updatedSecondsAgo), Now.AddSeconds(expiresInSeconds));

    [Fact]
    public void A_user_without_live_sources_is_offline()
    {
        Assert.Null(PresenceTimeline.EffectiveAt(new Dictionary<string, PresenceSource>(), Now));
        var expired = new Dictionary<string, PresenceSource> { ["api"] = Source("busy", 60, 0) };
        Assert.Null(PresenceTimeline.EffectiveAt(expired, Now));
    }

    [Fact]
    public void A_device_coming_online_does_not_hide_a_custom_status()
    {
        var sources = new Dictionary<string, PresenceSource>
        {
            ["api"] = Source("busy", 60, 600),
            ["device:web_1"] = Source(PresenceStatus.Online, 1, 600),
        };
        Assert.Equal("busy", PresenceTimeline.EffectiveAt(sources, Now));
    }

    [Fact]
    public void The_most_recently_updated_custom_status_wins()
    {
        var sources = new Dictionary<string, PresenceSource>
        {
            ["api"] = Source("busy", 60, 600),
            ["device:ios_1"] = Source("in a meeting", 5, 600),
        };
        Assert.Equal("in a meeting", PresenceTimeline.EffectiveAt(sources, Now));
    }

    [Fact]
    public void The_timeline_steps_through_each_expiry_and_ends_offline()
    {
        var sources = new Dictionary<string, PresenceSource>
        {
            ["api"] = Source("busy", 60, 100),
            ["device:web_1"] = Source(PresenceStatus.Online, 1, 300),
            ["device:web_2"] = Source(PresenceStatus.Online, 1, 200),
        };
        var steps = PresenceTimeline.StepsAfter(sources, Now);
        Assert.Equal([new(Now.AddSeconds(100), PresenceStatus.Online), new(Now.AddSeconds(300), null)], steps);
    }

    [Fact]
    public void An_offline_user_has_no_timeline()
        => Assert.Empty(PresenceTimeline.StepsAfter(new Dictionary<string, PresenceSource> { ["api"] = Source("x", 9, -1) }, Now));
}
