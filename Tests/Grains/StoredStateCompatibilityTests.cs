using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Presence.Grains.Users;

namespace Presence.Tests.Grains;

/// <summary>A source as it was stored before it could be refreshed in place (a positional record, immutable).</summary>
[GenerateSerializer, Immutable, Alias("presence.tests.PresenceSourceAsStoredBefore")]
public sealed record PresenceSourceAsStoredBefore([property: Id(0)] string Status, [property: Id(1)] DateTimeOffset UpdatedAt, [property: Id(2)] DateTimeOffset ExpiresAt);

public sealed class StoredStateCompatibilityTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    [Fact]
    public void A_source_stored_before_sources_were_refreshed_in_place_reads_back_the_same()
    {
        var at = new DateTimeOffset(2026, 11, 24, 1, 2, 3, TimeSpan.Zero);
        var stored = Serializer.SerializeToArray(new Dictionary<string, PresenceSourceAsStoredBefore>
        {
            ["api"] = new("busy", at, at.AddMinutes(5)),
        });

        var read = Serializer.Deserialize<Dictionary<string, PresenceSource>>(stored)!["api"];
        Assert.Equal(("busy", at, at.AddMinutes(5)), (read.Status, read.UpdatedAt, read.ExpiresAt));

        // And what is stored now reads back after a refresh moved it along.
        read.Refresh(at.AddMinutes(1), at.AddMinutes(6));
        var again = Serializer.Deserialize<PresenceSource>(Serializer.SerializeToArray(read))!;
        Assert.Equal(("busy", at.AddMinutes(1), at.AddMinutes(6)), (again.Status, again.UpdatedAt, again.ExpiresAt));
    }
}
