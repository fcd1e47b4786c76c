using Microsoft.Extensions.Options;
using Presence.Client;
using Presence.Grains.Hosting;
using Presence.Grains.Index;

namespace Presence.Tests.Grains;

/// <summary>What a process knows of where a tenant's index nodes are: only ever finer, from the cuts nodes answer.</summary>
public sealed class IndexLayoutTests
{
    private static IndexLayout Layout(int shards = 32) => new(Options.Create(new PresenceIndexOptions { Shards = shards }));

    [Fact]
    public void A_tenant_that_never_split_is_its_root_and_costs_nothing()
    {
        var layout = Layout();
        Assert.Equal(new IndexShard("app", 0, 32), layout.LeafOf("app", 17));
        Assert.Equal([new IndexShard("app", 0, 32)], layout.Leaves("app"));
        layout.Learn("app", null);
        layout.Learn("app", []);
        Assert.Equal([new IndexShard("app", 0, 32)], layout.Leaves("app"));
    }

    [Fact]
    public void Cuts_learned_from_several_answers_add_up_and_name_each_shards_node()
    {
        var layout = Layout();
        layout.Learn("app", [16]);
        Assert.Equal(new IndexShard("app", 16, 32), layout.LeafOf("app", 16));
        Assert.Equal(new IndexShard("app", 0, 16), layout.LeafOf("app", 15));
        layout.Learn("app", [8, 16]);
        layout.Learn("app", [24, 28]);
        Assert.Equal(
            [new("app", 0, 8), new("app", 8, 16), new("app", 16, 24), new("app", 24, 28), new("app", 28, 32)],
            layout.Leaves("app"));
        Assert.Equal(new IndexShard("app", 24, 28), layout.LeafOf("app", 27));
        Assert.Equal(new IndexShard("other", 0, 32), layout.LeafOf("other", 27)); // tenants apart
    }

    [Fact]
    public void Cuts_outside_the_logical_shards_are_ignored()
    {
        var layout = Layout(4);
        layout.Learn("app", [0, 2, 4, 9, -1]);
        Assert.Equal([new("app", 0, 2), new("app", 2, 4)], layout.Leaves("app"));
    }
}
