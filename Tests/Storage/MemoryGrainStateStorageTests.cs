using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using Presence.Grains.Storage;
using Presence.Grains.Users;

namespace Presence.Tests.Storage;

/// <summary>
/// The in-memory mode's grain storage keeps the contract of every Orleans storage provider: a stored state reads back
/// as written, a write or a clear over a state someone else wrote since fails, and nothing it refuses changes what is stored.
/// </summary>
public sealed class MemoryGrainStateStorageTests
{
    private const string StateName = "user";
    private static readonly IServiceProvider Services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private readonly MemoryStates _states = new();

    private IGrainStorage Storage() => new MemoryGrainStateStorage(_states,
        new OrleansGrainStorageSerializer(Services.GetRequiredService<Serializer>()), Services.GetRequiredService<IActivatorProvider>());

    private static GrainId NewId() => GrainId.Create("user", Guid.NewGuid().ToString("N"));

    private static GrainState<UserPresenceState> State(string? etag, long version = 0) => new(new UserPresenceState { Version = version }, etag);

    [Fact]
    public async Task A_state_never_written_reads_as_a_new_one_without_an_etag()
    {
        var read = State("stale", 7);
        await Storage().ReadStateAsync(StateName, NewId(), read);
        Assert.Null(read.ETag);
        Assert.False(read.RecordExists);
        Assert.Equal(0, read.State!.Version);
    }

    [Fact]
    public async Task A_written_state_reads_back_as_a_copy_under_the_etag_its_write_returned()
    {
        var id = NewId();
        var written = State(null, 3);
        written.State!.Sources["api"] = new PresenceSource("online", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(15));
        await Storage().WriteStateAsync(StateName, id, written);
        written.State!.Version = 99; // the grain's memory moves on; what is stored does not

        var read = State(null);
        await Storage().ReadStateAsync(StateName, id, read);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(3, read.State!.Version);
        Assert.Equal("online", read.State!.Sources["api"].Status);
        Assert.Equal(0, (await ReadVersion("other", id)).Version); // state names are apart
    }

    [Fact]
    public async Task A_write_over_a_state_written_since_fails_and_leaves_the_newer_one()
    {
        var id = NewId();
        var first = State(null, 1);
        await Storage().WriteStateAsync(StateName, id, first);
        var second = State(first.ETag, 2);
        await Storage().WriteStateAsync(StateName, id, second);
        Assert.NotEqual(first.ETag, second.ETag);

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().WriteStateAsync(StateName, id, State(first.ETag, 3)));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().WriteStateAsync(StateName, id, State(null, 4)));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().ClearStateAsync(StateName, id, State(first.ETag)));
        Assert.Equal((2, second.ETag), await ReadVersion(StateName, id));
    }

    [Fact]
    public async Task A_cleared_state_reads_as_never_written_and_a_write_with_its_old_etag_fails()
    {
        var id = NewId();
        var written = State(null, 5);
        await Storage().WriteStateAsync(StateName, id, written);
        var etag = written.ETag;
        await Storage().ClearStateAsync(StateName, id, written);
        Assert.Null(written.ETag);
        Assert.False(written.RecordExists);
        Assert.Equal(0, written.State!.Version);

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().WriteStateAsync(StateName, id, State(etag, 6)));
        Assert.Equal((0, null), await ReadVersion(StateName, id));
        await Storage().WriteStateAsync(StateName, id, State(null, 7)); // written anew, as a first write
        Assert.Equal(7, (await ReadVersion(StateName, id)).Version);
    }

    [Fact]
    public async Task Of_concurrent_writes_over_one_etag_exactly_one_succeeds()
    {
        var id = NewId();
        var first = State(null, 1);
        await Storage().WriteStateAsync(StateName, id, first);
        var attempts = Enumerable.Range(2, 16).Select(version => Task.Run(async () =>
        {
            try
            {
                await Storage().WriteStateAsync(StateName, id, State(first.ETag, version));
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        })).ToArray();
        Assert.Single(await Task.WhenAll(attempts), succeeded => succeeded);
    }

    private async Task<(long Version, string? ETag)> ReadVersion(string stateName, GrainId id)
    {
        var read = State(null);
        await Storage().ReadStateAsync(stateName, id, read);
        return (read.State!.Version, read.ETag);
    }
}
