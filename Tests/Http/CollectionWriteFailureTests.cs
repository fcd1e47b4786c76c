using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Presence.Grains.Storage;
using Presence.Storage;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

/// <summary>A gateway whose collection store fails every write while <see cref="Down"/> is set, and whose channels hold at most 3 members.</summary>
public sealed class FailingCollectionsFactory : GatewayFactory
{
    public FailingCollectionsFactory()
        : base(("Presence:Channels:MaxMembers", "3"))
    {
    }

    public volatile bool Down;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton<ICollectionStore>(new Failing(new MemoryCollectionStore(), this))));
    }

    private sealed class Failing(ICollectionStore inner, FailingCollectionsFactory factory) : ICollectionStore
    {
        public Task<StoredCollection> LoadAsync(CollectionKind kind, string key, CancellationToken cancellationToken) => inner.LoadAsync(kind, key, cancellationToken);

        public Task<long> WriteAsync(CollectionKind kind, string key, CollectionWrite write, CancellationToken cancellationToken) => factory.Down
            ? Task.FromException<long>(new StorageUnavailableException("storage unavailable: the test took it down"))
            : inner.WriteAsync(kind, key, write, cancellationToken);
    }
}

public sealed class CollectionWriteFailureTests(FailingCollectionsFactory factory) : IClassFixture<FailingCollectionsFactory>
{
    [Fact]
    public async Task A_join_whose_write_fails_is_a_503_in_pnuts_envelope_and_leaves_nothing_behind()
    {
        var tenant = Keys.Tenant();
        using var ann = factory.ClientFor("ann", tenant);
        using var bob = factory.ClientFor("bob", tenant);
        await (await bob.PutAsync("/v1/channels/team/subscribe", null)).AssertOk();

        factory.Down = true;
        try
        {
            Assert.Contains("unavailable", await (await ann.PutAsync("/v1/channels/team/subscribe", null)).AssertError(HttpStatusCode.ServiceUnavailable));
            Assert.Contains("unavailable", await (await ann.PutAsync("/v1/users/me/presence/channels/team", Pnut.Form(("presence", "here")))).AssertError(HttpStatusCode.ServiceUnavailable));
        }
        finally
        {
            factory.Down = false;
        }

        // What storage holds, not what the failed activation had in memory: bob alone, ann nowhere.
        var members = (await (await bob.GetAsync("/v1/channels/team/subscribers?include_presence=1")).AssertOk()).GetProperty("data");
        Assert.Equal(["bob"], members.EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.Empty((await (await bob.GetAsync("/v1/channels/team/presence")).AssertOk()).GetProperty("data").EnumerateArray());
        var joined = (await (await ann.PutAsync("/v1/channels/team/subscribe", null)).AssertOk()).GetProperty("data");
        Assert.Equal(2, joined.GetProperty("counts").GetProperty("subscribers").GetInt32());
    }

    [Fact]
    public async Task A_channel_at_its_member_limit_refuses_a_new_member_with_403_and_keeps_serving_its_members()
    {
        var tenant = Keys.Tenant();
        foreach (var user in new[] { "a", "b", "c" })
        {
            using var client = factory.ClientFor(user, tenant);
            await (await client.PutAsync("/v1/channels/full/subscribe", null)).AssertOk();
        }
        using var d = factory.ClientFor("d", tenant);
        Assert.Contains("limit of 3 members", await (await d.PutAsync("/v1/channels/full/subscribe", null)).AssertError(HttpStatusCode.Forbidden));
        Assert.Contains("limit of 3 members", await (await d.PutAsync("/v1/users/me/presence/channels/full", Pnut.Form(("presence", "here")))).AssertError(HttpStatusCode.Forbidden));

        using var a = factory.ClientFor("a", tenant);
        await (await a.PutAsync("/v1/users/me/presence/channels/full", Pnut.Form(("presence", "here")))).AssertOk();
        await (await a.DeleteAsync("/v1/channels/full/subscribe")).AssertOk(); // a is still a member: present
        using var c = factory.ClientFor("c", tenant);
        await (await c.DeleteAsync("/v1/channels/full/subscribe")).AssertOk(); // c never set presence: gone, room for d
        await (await d.PutAsync("/v1/channels/full/subscribe", null)).AssertOk();
    }
}
