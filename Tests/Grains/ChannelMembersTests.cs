using Presence.Grains.Channels;

namespace Presence.Tests.Grains;

public sealed class ChannelMembersTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private static readonly TimeSpan Retention = TimeSpan.FromDays(30);

    [Fact]
    public void A_member_neither_subscribed_nor_present_is_kept_for_the_retention_then_forgotten()
    {
        var members = new ChannelMembers(Retention);
        var ann = members.GetOrAdd("ann");
        (ann.Status, ann.ExpiresAt, ann.LastSeenAt) = ("here", T0.AddMinutes(15), T0);
        Assert.True(members.Refile(ann, T0));
        Assert.Equal(T0.AddMinutes(15), members.EarliestDue);

        // The presence expires: ann stays (last seen) until the retention ends, then is forgotten.
        var due = Assert.Single(members.TakeDue(T0.AddMinutes(15)));
        (due.Status, due.ExpiresAt) = (null, null);
        Assert.True(members.Refile(due, T0.AddMinutes(15)));
        Assert.Equal(T0 + Retention, members.EarliestDue);
        Assert.Empty(members.PresentAfter(null, 10, T0.AddMinutes(15)).Page);

        Assert.False(members.Refile(Assert.Single(members.TakeDue(T0 + Retention)), T0 + Retention));
        Assert.Null(members.Find("ann"));
        Assert.Equal(0, members.Count);
        Assert.Equal(DateTimeOffset.MaxValue, members.EarliestDue);
    }

    [Fact]
    public void A_subscriber_is_never_forgotten_and_one_who_never_set_presence_goes_when_it_leaves()
    {
        var members = new ChannelMembers(Retention);
        var bob = members.GetOrAdd("bob");
        bob.SubscribedAt = T0;
        Assert.True(members.Refile(bob, T0));
        Assert.Equal(DateTimeOffset.MaxValue, members.EarliestDue);
        Assert.Equal(1, members.Subscribers);

        bob.SubscribedAt = null;
        Assert.False(members.Refile(bob, T0.AddDays(400)));
        Assert.Equal(0, members.Subscribers);
        Assert.Null(members.Find("bob"));
    }

    [Fact]
    public void Present_pages_skip_hidden_and_expired_members_and_subscriber_pages_start_after_an_id()
    {
        var members = new ChannelMembers(Retention);
        foreach (var (id, status, hidden, ends) in new[] { ("a", "here", false, 10), ("b", "here", true, 10), ("c", "here", false, 1), ("d", "away", false, 10) })
        {
            var member = members.GetOrAdd(id);
            (member.Status, member.ExpiresAt, member.LastSeenAt, member.Hidden, member.SubscribedAt) = (status, T0.AddMinutes(ends), T0, hidden, T0);
            Assert.True(members.Refile(member, T0));
        }
        var (present, more) = members.PresentAfter(null, 10, T0.AddMinutes(5));
        Assert.Equal(["a", "d"], present.Select(m => m.Key));
        Assert.False(more);

        var first = members.SubscribersAfter(null, 2);
        Assert.Equal(["a", "b"], first.Page.Select(m => m.Key));
        Assert.True(first.More);
        Assert.Equal(["c", "d"], members.SubscribersAfter("b", 2).Page.Select(m => m.Key));
        Assert.Equal(["a", "b", "c", "d"], members.SubscriberIds());
    }
}
