using Presence.Grains.Index;
using Presence.Grains.Timers;
using Presence.Index;

namespace Presence.Tests.Grains;

public sealed class ExpiryWheelTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    [Fact]
    public void A_reused_bucket_holds_only_what_was_scheduled_into_it_since()
    {
        var wheel = new ExpiryWheel<IndexEntry>();
        var ann = Due("ann", T0.AddSeconds(5));
        var bob = Due("bob", T0.AddSeconds(5));
        wheel.Schedule(ann);
        wheel.Schedule(bob);
        // Both move on (a refresh): their second's bucket empties and is kept for later seconds.
        Move(wheel, ann, T0.AddSeconds(60));
        Move(wheel, bob, T0.AddSeconds(60));
        Assert.Empty(wheel.TakeDue(T0.AddSeconds(30)));

        var cid = Due("cid", T0.AddSeconds(10));
        wheel.Schedule(cid);
        Assert.Equal(T0.AddSeconds(10), wheel.EarliestDue);
        Assert.Equal(["cid"], wheel.TakeDue(T0.AddSeconds(10)));

        // A bucket taken when due is kept too: the next second's entries are not mixed with the ones taken.
        var dan = Due("dan", T0.AddSeconds(20));
        wheel.Schedule(dan);
        Assert.Equal(["dan"], wheel.TakeDue(T0.AddSeconds(20)));
        Assert.Equal(["ann", "bob"], wheel.TakeDue(T0.AddSeconds(60)).Order());
        Assert.Equal(DateTimeOffset.MaxValue, wheel.EarliestDue);
    }

    private static IndexEntry Due(string userId, DateTimeOffset at)
        => new(userId, 0) { Steps = [new StatusStep(at, null)] };

    private static void Move(ExpiryWheel<IndexEntry> wheel, IndexEntry entry, DateTimeOffset at)
    {
        entry.Steps = [new StatusStep(at, null)];
        wheel.Schedule(entry);
    }
}
