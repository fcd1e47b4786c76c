using Presence.Grains.Collections;

namespace Presence.Tests.Grains;

public sealed class SortedKeysTests
{
    private sealed record Item(string Key) : IKeyed;

    [Fact]
    public void Ids_come_back_in_ordinal_order_from_any_starting_point_across_many_blocks()
    {
        var keys = new SortedKeys<Item>();
        var reference = new SortedSet<string>(StringComparer.Ordinal);
        var random = new Random(7);
        for (var i = 0; i < 20_000; i++)
        {
            var id = $"u{random.Next(8_000)}";
            if (random.Next(4) == 0)
            {
                Assert.Equal(reference.Remove(id), keys.Remove(id));
            }
            else
            {
                Assert.Equal(reference.Add(id), keys.Add(new Item(id)));
            }
        }
        Assert.Equal(reference.Count, keys.Count);
        Assert.Equal(reference, keys.After(null).Select(i => i.Key));
        foreach (var after in new[] { "", "u0", "u4000", "u5", "u7999", "u9", "v", reference.Min!, reference.Max! })
        {
            Assert.Equal(reference.Where(k => string.CompareOrdinal(k, after) > 0).Take(50), keys.After(after).Take(50).Select(i => i.Key));
            Assert.Equal(reference.Contains(after), keys.Contains(after));
        }
    }

    [Fact]
    public void Emptied_blocks_go_and_the_set_can_fill_again()
    {
        var keys = new SortedKeys<Item>();
        for (var i = 0; i < 3_000; i++)
        {
            keys.Add(new Item(i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)));
        }
        for (var i = 0; i < 3_000; i++)
        {
            Assert.True(keys.Remove(i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)));
        }
        Assert.Equal(0, keys.Count);
        Assert.Empty(keys.After(null));
        Assert.False(keys.Remove("00001"));
        Assert.True(keys.Add(new Item("b")));
        Assert.True(keys.Add(new Item("a")));
        Assert.False(keys.Add(new Item("a")));
        Assert.Equal(["a", "b"], keys.After(null).Select(i => i.Key));
    }
}
