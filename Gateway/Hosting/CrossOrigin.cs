namespace Presence.Gateway.Hosting;

/// <summary>
/// Cross-origin calls from browser pages (<c>Presence:Http:CorsOrigins</c>), through ASP.NET Core's CORS middleware:
/// preflights are answered before authentication, and every response to an allowed origin (errors included) carries
/// the headers a browser needs to read it. With no origin configured nothing is registered and no request pays for it.
/// </summary>
public static class CrossOrigin
{
    /// <summary>The request headers the dialects' clients send (Stream's SDK sends the last three).</summary>
    public static readonly string[] Headers =
    [
        "Authorization", "Content-Type", "X-Auth-Token", "X-User-Id", "X-Pretty-Json",
        "stream-auth-type", "X-Stream-Client", "x-client-request-id",
    ];

    public static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    public static WebApplicationBuilder AddPresenceCors(this WebApplicationBuilder builder)
    {
        var origins = Origins(builder.Configuration);
        if (origins.Length == 0)
        {
            return builder;
        }
        builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            if (origins.Contains("*"))
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins([.. origins.Select(GatewayHttpOptions.Origin).OfType<string>()]);
            }
            policy.WithHeaders(Headers).WithMethods(Methods).SetPreflightMaxAge(TimeSpan.FromMinutes(10));
        }));
        return builder;
    }

    public static WebApplication UsePresenceCors(this WebApplication app)
    {
        if (Origins(app.Configuration).Length > 0)
        {
            app.UseCors();
        }
        return app;
    }

    private static string[] Origins(IConfiguration configuration)
        => configuration.GetSection(GatewayHttpOptions.Section).Get<GatewayHttpOptions>()?.CorsOrigins ?? [];
}
