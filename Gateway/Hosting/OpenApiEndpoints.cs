using Scalar.AspNetCore;

namespace Presence.Gateway.Hosting;

/// <summary>
/// The OpenAPI document of every dialect at <c>/openapi/v1.json</c> (the handlers' typed results describe each
/// response and error body), and in Development a browsable reference at <c>/scalar</c>.
/// </summary>
public static class OpenApiEndpoints
{
    public static WebApplicationBuilder AddPresenceOpenApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Orleans.Presence";
            document.Info.Description = "User presence in the pnut.io, Agora Chat and Rocket.Chat dialects, and realtime events in Stream's shape. Every route documents the failures it can answer with, in its dialect's error format.";
            return Task.CompletedTask;
        }));
        return builder;
    }

    public static WebApplication MapPresenceOpenApi(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous();
        if (app.Environment.IsDevelopment())
        {
            // Self-contained: the page must work where the machine has no internet (no web fonts from a CDN).
            app.MapScalarApiReference(options => options.DisableDefaultFonts()).AllowAnonymous();
        }
        return app;
    }
}
