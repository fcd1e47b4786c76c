using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Presence.Tests.Support;

namespace Presence.Tests.Http;

public sealed class DashboardGatewayFactory() : GatewayFactory(
    ("Presence:Dashboard:Enabled", "true"),
    ("Presence:Dashboard:Username", DashboardTests.User),
    ("Presence:Dashboard:Password", DashboardTests.Password),
    ("Presence:Operators:Tenant", DashboardTests.OperatorTenant));

public sealed class DashboardTests(DashboardGatewayFactory factory) : IClassFixture<DashboardGatewayFactory>
{
    public const string User = "ops";
    public const string Password = "dashboard-password-0123";
    public const string OperatorTenant = "operators";

    [Fact]
    public async Task The_dashboard_asks_for_a_credential_and_lets_in_only_the_configured_one_or_an_admin_token()
    {
        using var anonymous = factory.CreateClient();
        var refused = await anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.StartsWith("Basic", refused.Headers.WwwAuthenticate.ToString());

        Assert.Equal(HttpStatusCode.Unauthorized, (await Get(Basic(User, "wrong-password-0123456"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get(Basic(User, Password))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get(new AuthenticationHeaderValue("Bearer", GatewayFactory.Token("root", OperatorTenant, role: "admin")))).StatusCode);
        // The dashboard sees every tenant: an app's admin token of another tenant is not enough, nor is a user's.
        Assert.Equal(HttpStatusCode.Forbidden, (await Get(new AuthenticationHeaderValue("Bearer", GatewayFactory.Token("app", "some-app", role: "admin")))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Get(new AuthenticationHeaderValue("Bearer", GatewayFactory.Token("joe", OperatorTenant)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get(new AuthenticationHeaderValue("Bearer", "not-a-token"))).StatusCode);
    }

    [Fact]
    public async Task The_dashboards_api_is_behind_the_same_credential()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().GetAsync("/dashboard/DashboardCounters")).StatusCode);
    }

    private async Task<HttpResponseMessage> Get(AuthenticationHeaderValue authorization)
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = authorization;
        return await client.GetAsync("/dashboard/");
    }

    private static AuthenticationHeaderValue Basic(string user, string password)
        => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
}

[Collection(GatewayCollection.Name)]
public sealed class DashboardDisabledTests(GatewayFactory factory)
{
    [Fact]
    public async Task Without_configuration_there_is_no_dashboard_at_all()
    {
        using var admin = factory.ClientFor("root", role: "admin");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/dashboard/")).StatusCode);
    }
}
