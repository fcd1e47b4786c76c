using Presence.Grains.Storage;
using Presence.Grains.Subscriptions;
using Presence.Subscriptions;
using Presence.Tests.Support;
using Presence.Users;

namespace Presence.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class SubscriptionsGrainTests(ClusterFixture fixture)
{
    private IPresenceSubscriptionsGrain Subscriptions() => fixture.Grains.GetGrain<IPresenceSubscriptionsGrain>(PresenceKeys.Of(Keys.Tenant(), "wzy"));

    private async Task<Dictionary<string, DateTimeOffset>> Stored(IPresenceSubscriptionsGrain grain)
        => (await fixture.ReadCollection<DateTimeOffset, SubscriptionsHead>(CollectionKind.Subscriptions, grain.GetPrimaryKeyString())).Items;

    [Fact]
    public async Task Expired_subscriptions_never_show_and_are_removed_after_deactivation_by_the_one_reminder()
    {
        var grain = Subscriptions();
        await grain.Subscribe(["a", "b"], TimeSpan.FromHours(2));
        await grain.Subscribe(["c"], TimeSpan.FromDays(3));
        await grain.Subscribe(["a"], TimeSpan.FromDays(3)); // re-subscribing overwrites the expiry
        await fixture.Cluster.DeactivateAsync(grain);

        for (var hour = 0; hour < 2; hour++)
        {
            await fixture.Advance(TimeSpan.FromHours(1));
        }
        await Poll.Until(async () =>
        {
            fixture.Time.Advance(TimeSpan.FromSeconds(30));
            return !(await Stored(grain)).ContainsKey("b");
        }, "the reminder removed the expired subscription from storage");

        var stored = await Stored(grain);
        Assert.Equal(["a", "c"], stored.Keys.Order());
        var page = await grain.List(0, 10);
        Assert.Equal(["a", "c"], page.Items.Select(s => s.UserId));
    }

    [Fact]
    public async Task A_user_subscribes_to_at_most_3000_users()
    {
        var grain = Subscriptions();
        var first = Enumerable.Range(0, 3000).Select(i => $"u{i}").ToArray();
        Assert.NotNull((await grain.Subscribe(first, TimeSpan.FromHours(1))).Expiry);
        Assert.Null((await grain.Subscribe(["one-more"], TimeSpan.FromHours(1))).Expiry);
        Assert.NotNull((await grain.Subscribe(["u5"], TimeSpan.FromHours(2))).Expiry); // renewing is not adding
        Assert.Equal(3000, (await grain.List(0, 1)).Total);
    }

    [Fact]
    public async Task Devices_aggregate_into_the_users_one_presence_across_silos()
    {
        var user = fixture.Grains.GetGrain<IUserPresenceGrain>(PresenceKeys.Of(Keys.Tenant(), "c1"));
        await user.SetDevice(new DeviceUpdate("android_1", "busy", "ext", TimeSpan.FromHours(1), null));
        await user.SetDevice(new DeviceUpdate("web_1", PresenceStatus.Online, "ext2", TimeSpan.FromHours(2), null));
        Assert.Equal("busy", (await user.Get()).Status);

        await fixture.Advance(TimeSpan.FromHours(1));
        var detail = await user.GetDetail();
        Assert.Equal(PresenceStatus.Online, detail.Status);
        Assert.Equal("ext2", detail.Ext);
        Assert.Contains(new SourceStatus("device:android_1", null), detail.Sources);
        Assert.Contains(new SourceStatus("device:web_1", PresenceStatus.Online), detail.Sources);

        await user.SetDevice(new DeviceUpdate("web_1", null, "", TimeSpan.FromHours(1), null));
        Assert.Equal(PresenceStatus.Offline, (await user.Get()).Status);
    }
}
