using Microsoft.AspNetCore.Diagnostics;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Gateway.Errors;

public static partial class ErrorHandlingExtensions
{
    /// <summary>
    /// Every error leaves in the addressed dialect's format: exceptions (a cluster that cannot answer is 503, never
    /// 500), and bodiless status codes set by the framework (unmatched route 404, wrong method 405).
    /// </summary>
    public static WebApplication UseDialectErrors(this WebApplication app)
    {
        var dialects = app.Services.GetRequiredService<DialectRegistry>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Presence.Gateway.Errors");
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = context =>
            {
                var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
                var (status, message) = Classify(error);
                if (status >= 500)
                {
                    LogRequestFailed(logger, context.Request.Method, context.Request.Path, status, error);
                }
                return dialects.For(context).WriteAsync(context, status, message);
            },
        });
        app.UseStatusCodePages(context =>
        {
            var status = context.HttpContext.Response.StatusCode;
            var message = status switch
            {
                StatusCodes.Status404NotFound => "not found",
                StatusCodes.Status405MethodNotAllowed => $"method {context.HttpContext.Request.Method} is not allowed here",
                StatusCodes.Status413PayloadTooLarge => "request body too large",
                StatusCodes.Status415UnsupportedMediaType => "unsupported content type",
                _ => "request failed",
            };
            return dialects.For(context.HttpContext).WriteAsync(context.HttpContext, status, message);
        });
        return app;
    }

    private static (int Status, string Message) Classify(Exception? error) => error switch
    {
        BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "request body too large" : "bad request"),
        // The cluster or its database cannot answer right now: a retry later will do.
        OrleansException or TimeoutException or OperationCanceledException or Presence.Storage.StorageUnavailableException
            => (StatusCodes.Status503ServiceUnavailable, "presence service temporarily unavailable, retry shortly"),
        SecurityTokenException => (StatusCodes.Status401Unauthorized, "invalid token"),
        _ => (StatusCodes.Status500InternalServerError, "internal error"),
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed with {Status}")]
    private static partial void LogRequestFailed(ILogger logger, string method, string path, int status, Exception? error);
}
