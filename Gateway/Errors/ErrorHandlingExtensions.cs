using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http.Features;
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
        app.UseMiddleware<DialectErrors>();
        return app;
    }

    /// <summary>
    /// The work of the framework's exception handler and status-code pages in one middleware: one layer (and, for a
    /// request that completes asynchronously, one state machine) per request instead of two, and no per-request
    /// feature object. The endpoint stays set while the error is written, so an endpoint's own dialect answers.
    /// </summary>
    private sealed partial class DialectErrors(RequestDelegate next, DialectRegistry dialects, ILogger<DialectErrors> logger)
    {
        public Task InvokeAsync(HttpContext context)
        {
            Task pending;
            try
            {
                pending = next(context);
            }
            catch (Exception error)
            {
                return HandleAsync(context, error);
            }
            return pending.IsCompletedSuccessfully ? StatusPageAsync(context) : AwaitedAsync(context, pending);
        }

        private async Task AwaitedAsync(HttpContext context, Task pending)
        {
            try
            {
                await pending;
            }
            catch (Exception error)
            {
                await HandleAsync(context, error);
                return;
            }
            await StatusPageAsync(context);
        }

        /// <summary>A bodiless error status (set by routing, the framework or a handler) gets the dialect's body.</summary>
        private Task StatusPageAsync(HttpContext context)
        {
            var response = context.Response;
            var status = response.StatusCode;
            if (status >= 500)
            {
                TagErrorType(context, status);
            }
            if (status < 400 || status >= 600 || response.HasStarted || response.ContentLength.HasValue || !string.IsNullOrEmpty(response.ContentType))
            {
                return Task.CompletedTask;
            }
            var message = status switch
            {
                StatusCodes.Status404NotFound => "not found",
                StatusCodes.Status405MethodNotAllowed => $"method {context.Request.Method} is not allowed here",
                StatusCodes.Status413PayloadTooLarge => "request body too large",
                StatusCodes.Status415UnsupportedMediaType => "unsupported content type",
                _ => "request failed",
            };
            return dialects.For(context).WriteAsync(context, status, message);
        }

        private async Task HandleAsync(HttpContext context, Exception error)
        {
            if (error is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
            {
                // The client left: nobody reads an answer. 499 is what the framework's handler records for it.
                if (!context.Response.HasStarted)
                {
                    context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
                }
                return;
            }
            // As the framework's handler does: the request-duration metric names what failed.
            context.Features.Get<IHttpMetricsTagsFeature>()?.Tags.Add(new(ErrorType, error.GetType().FullName));
            var (status, message) = Classify(error);
            if (status >= 500)
            {
                LogRequestFailed(logger, context.Request.Method, context.Request.Path, status, error);
            }
            if (context.Response.HasStarted)
            {
                // Too late for an error body: rethrown, the server aborts the connection and the client sees a cut response.
                ExceptionDispatchInfo.Throw(error);
            }
            context.Response.Clear();
            context.Response.Headers.CacheControl = "no-cache,no-store";
            try
            {
                await dialects.For(context).WriteAsync(context, status, message);
            }
            catch (Exception writing) when (!context.RequestAborted.IsCancellationRequested)
            {
                LogErrorResponseFailed(logger, context.Request.Method, context.Request.Path, writing.Message);
                throw;
            }
        }

        /// <summary>
        /// A 5xx answered without an exception is tagged with its status code, as the semantic conventions ask (and
        /// OpenTelemetry's own middleware for it, removed in MetricsEndpoints, did).
        /// </summary>
        private static void TagErrorType(HttpContext context, int status)
        {
            if (context.Features.Get<IHttpMetricsTagsFeature>() is not { } metrics)
            {
                return;
            }
            foreach (var tag in metrics.Tags)
            {
                if (tag.Key == ErrorType)
                {
                    return;
                }
            }
            metrics.Tags.Add(new(ErrorType, status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        private const string ErrorType = "error.type";

        [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed with {Status}")]
        private static partial void LogRequestFailed(ILogger logger, string method, string path, int status, Exception? error);

        [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path}: writing the error response failed: {Reason}")]
        private static partial void LogErrorResponseFailed(ILogger logger, string method, string path, string reason);
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
}
