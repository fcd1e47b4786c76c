using Presence.Channels;
using Presence.Index;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class VisibilityAndManualStatusTests(ClusterFixture fixture)
{
    private IUserPresenceGrain User(string tenant, string id) => fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(tenant, id));

    private async Task<string[]> Online(string tenant)
        => [.. (await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 100)).Users.Select(u => u.UserId)];

    [Fact]
    public async Task Turning_invisible_takes_the_user_off_every_list_and_freezes_what_others_see()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "ann");
        var set = await user.Update(new PresenceUpdate(PresenceSources.Api, "busy", null, null));
        await user.SetDevice(new DeviceUpdate("web_1", "online", "at my desk", TimeSpan.FromMinutes(5), null));
        var seenBefore = (await user.Get()).LastSeenAt;
        Assert.Contains("ann", await Online(tenant));

        await fixture.Advance(TimeSpan.FromSeconds(3));
        var own = await user.SetInvisible(true);
        Assert.True(own.Invisible);
        Assert.Equal("busy", own.Status);
        Assert.DoesNotContain("ann", await Online(tenant));

        await fixture.Advance(TimeSpan.FromSeconds(3));
        await user.SetDevice(new DeviceUpdate("web_1", "online", "sneaking", TimeSpan.FromMinutes(5), null));
        var others = await user.Get();
        Assert.Equal(PresenceStatus.Offline, others.Status);
        Assert.Equal(seenBefore, others.LastSeenAt);
        Assert.False(others.Invisible);
        var detail = (await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).GetDetails(["ann"]))[0];
        Assert.Equal(PresenceStatus.Offline, detail.Status);
        Assert.Equal("at my desk", detail.Ext);
        Assert.All(detail.Sources, s => Assert.Null(s.Status));
        Assert.DoesNotContain("ann", await Online(tenant));

        await user.SetInvisible(false);
        Assert.Equal("busy", (await user.Get()).Status);
        Assert.Contains("ann", await Online(tenant));
        Assert.NotNull(set);
    }

    [Fact]
    public async Task Channel_presence_set_while_visible_is_hidden_when_the_user_turns_invisible_and_back()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "bea");
        var channel = fixture.Grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "den"));
        await user.SetChannelPresence("den", new ChannelPresenceUpdate("bea", "reading", null, null));
        Assert.Single((await channel.ListPresent(null, 10)).Members);

        await user.SetInvisible(true);
        Assert.Empty((await channel.ListPresent(null, 10)).Members);
        Assert.Equal(PresenceStatus.Offline, (await channel.GetMember("bea")).Status);
        var own = await channel.GetMember("bea", own: true);
        Assert.Equal("reading", own.Status);
        Assert.True(own.Hidden);

        // Set while invisible: hidden from the start.
        await user.SetChannelPresence("attic", new ChannelPresenceUpdate("bea", "hiding", null, null));
        Assert.Empty((await fixture.Grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "attic")).ListPresent(null, 10)).Members);

        await user.SetInvisible(false);
        Assert.Equal("reading", (await channel.GetMember("bea")).Status);
        Assert.Equal("hiding", (await fixture.Grains.GetGrain<IChannelPresenceGrain>(PresenceKeys.Of(tenant, "attic")).GetMember("bea")).Status);
    }

    [Fact]
    public async Task A_manual_status_holds_while_the_user_is_live_without_making_it_live()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "cy");
        var own = await user.SetManualStatus(new ManualStatus("away", "lunch", false, null));
        Assert.Equal(PresenceStatus.Offline, own.Status);
        Assert.Equal("lunch", own.StatusText);

        await user.Update(new PresenceUpdate("stream:gw1", PresenceStatus.Online, TimeSpan.FromMinutes(1), null));
        Assert.Equal("away", (await user.Get()).Status);
        var listed = (await fixture.Grains.GetGrain<IPresenceDirectoryGrain>(tenant).ListOnline(null, 10)).Users.Single();
        Assert.Equal("away", listed.Status);
        Assert.Equal("lunch", listed.StatusText);

        // Past any TTL of its own: it has none, it ends with the user's live sources only.
        await fixture.Advance(TimeSpan.FromSeconds(50));
        await user.Update(new PresenceUpdate("stream:gw1", PresenceStatus.Online, TimeSpan.FromMinutes(1), null, Renewal: true));
        await fixture.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal("away", (await user.Get()).Status);

        var back = await user.SetManualStatus(new ManualStatus(null, null, false, null));
        Assert.Equal(PresenceStatus.Online, back.Status);
        Assert.Equal("lunch", back.StatusText);
        Assert.Null((await user.SetManualStatus(new ManualStatus(null, "", false, null))).StatusText);
    }

    [Fact]
    public async Task A_renewal_is_not_activity_last_seen_moves_on_it_only_every_fifteen_minutes()
    {
        var tenant = Keys.Tenant();
        var user = User(tenant, "di");
        var opened = await user.Update(new PresenceUpdate("stream:gw1", PresenceStatus.Online, TimeSpan.FromMinutes(1), null));
        for (var i = 0; i < 14; i++)
        {
            await fixture.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromSeconds(1));
            var renewed = await user.Update(new PresenceUpdate("stream:gw1", PresenceStatus.Online, TimeSpan.FromMinutes(1), null, Renewal: true));
            Assert.Equal(opened.LastSeenAt, renewed.LastSeenAt);
        }
        await fixture.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(30));
        Assert.Equal(PresenceStatus.Offline, (await user.Get()).Status); // the lease ran out: no renewal, no ghost

        var again = await user.Update(new PresenceUpdate("stream:gw1", PresenceStatus.Online, TimeSpan.FromMinutes(1), null, Renewal: true));
        Assert.True(again.LastSeenAt > opened.LastSeenAt);
    }
}
