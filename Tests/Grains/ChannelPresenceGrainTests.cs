using Presence.Channels;
using Presence.Grains.Channels;
using Presence.Grains.Storage;
using Presence.Tests.Support;

namespace Presence.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class ChannelPresenceGrainTests(ClusterFixture fixture)
{
    private static readonly UserProfile Profile = new("ann", "Ann", null);

    private IChannelPresenceGrain Channel() => fixture.Grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(Keys.Tenant(), Keys.Unique("ch")));

    private Task<(Dictionary<string, ChannelMemberState> Items, ChannelHead? Head)> Stored(IChannelPresenceGrain channel)
        => fixture.ReadCollection<ChannelMemberState, ChannelHead>(CollectionKind.Channel, channel.GetPrimaryKeyString());

    [Fact]
    public async Task Channel_presence_defaults_to_fifteen_minutes_and_is_removed_by_the_timer()
    {
        var channel = Channel();
        await channel.SetPresence(new ChannelPresenceUpdate("ann", "here", null, Profile));
        await fixture.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal("here", (await channel.GetMember("ann")).Status);

        await fixture.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(PresenceStatus.Offline, (await channel.GetMember("ann")).Status); // a read is exact to the instant

        // The timer runs at the next whole second (members are bucketed by second) and writes the removal: the stored
        // row changes without any call to the grain.
        await fixture.Advance(TimeSpan.FromSeconds(1));
        await Poll.Until(async () =>
            (await Stored(channel)).Items["ann"].Status is null,
            "the channel timer removed the expired presence");
        var member = await channel.GetMember("ann");
        Assert.Equal(PresenceStatus.Offline, member.Status);
        Assert.NotNull(member.LastSeenAt);
    }

    [Fact]
    public async Task A_long_expiration_is_still_applied_after_deactivation_by_the_reminder()
    {
        var channel = Channel();
        await channel.SetPresence(new ChannelPresenceUpdate("ann", "away for the weekend", fixture.Time.GetUtcNow().AddDays(2), Profile));
        await channel.SetPresence(new ChannelPresenceUpdate("bob", "here", fixture.Time.GetUtcNow().AddDays(3), Profile));
        var stored = await Stored(channel);
        // Due at the whole second after ann's expiry: members are bucketed by second.
        Assert.InRange(stored.Head!.ReminderDue!.Value, fixture.Time.GetUtcNow().AddDays(2), fixture.Time.GetUtcNow().AddDays(2).AddSeconds(1));
        await fixture.Cluster.DeactivateAsync(channel);

        // Nothing calls the channel from here on: only its reminder can activate it and remove ann.
        // The reminder service loads reminders due within its loading window on a refresh loop that runs on the
        // same fake clock: step the clock so that loop gets to run on the way.
        for (var hour = 0; hour < 47; hour++)
        {
            await fixture.Advance(TimeSpan.FromHours(1));
        }
        await Poll.Until(async () =>
        {
            fixture.Time.Advance(TimeSpan.FromSeconds(30));
            return (await Stored(channel)).Items["ann"].Status is null;
        }, "the reminder reactivated the channel and removed the expired presence");

        stored = await Stored(channel);
        Assert.Equal("here", stored.Items["bob"].Status);
        Assert.True(stored.Head!.ReminderDue > fixture.Time.GetUtcNow(), "the next reminder is registered for bob's expiry");
    }

    [Fact]
    public async Task Expirations_beyond_the_maximum_are_clamped_to_seven_days_and_past_ones_delete()
    {
        var channel = Channel();
        await channel.SetPresence(new ChannelPresenceUpdate("ann", "here", DateTimeOffset.MaxValue, Profile));
        var stored = await Stored(channel);
        Assert.Equal(fixture.Time.GetUtcNow().AddDays(7), stored.Items["ann"].ExpiresAt);

        var deleted = await channel.SetPresence(new ChannelPresenceUpdate("ann", "here", fixture.Time.GetUtcNow().AddSeconds(-1), Profile));
        Assert.Equal(PresenceStatus.Offline, deleted.Status);
        Assert.Empty((await channel.ListPresent(null, 10)).Members);
    }

    [Fact]
    public async Task Subscribers_are_listed_in_pages_with_their_channel_presence()
    {
        var channel = Channel();
        foreach (var id in new[] { "c", "a", "b" })
        {
            await channel.Subscribe(id, Profile with { Username = id });
        }
        await channel.SetPresence(new ChannelPresenceUpdate("b", "typing", null, null));

        var first = await channel.ListSubscribers(null, 2);
        Assert.Equal(["a", "b"], first.Members.Select(m => m.UserId));
        Assert.True(first.More);
        Assert.Equal("typing", first.Members[1].Status);
        var second = await channel.ListSubscribers("b", 2);
        Assert.Equal(["c"], second.Members.Select(m => m.UserId));
        Assert.False(second.More);

        var info = await channel.Unsubscribe("a");
        Assert.Equal(2, info.Subscribers);
        Assert.False(info.YouSubscribed);
    }
}
