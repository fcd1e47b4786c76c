using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.IdentityModel.Tokens;

namespace Presence.Gateway.Dialects;

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
    /// feature object. The endpoint stays set while the error is written, so an endpoint's own dialect answers
    /// (the framework's handler cleared it, leaving only the path prefix to go by).
    /// </summary>
    private sealed partial class DialectErrors(RequestDelegate next, DialectRegistry dialects, ILogger<DialectErrors> logger)
    {
        public Task InvokeAsync(HttpContext context)
        {
            Task pending;
            try
            {
                pending = next(context);
                if (pending.IsCompletedSuccessfully && !NeedsStatusPage(context.Response))
                {
                    return Task.CompletedTask; // the common call: no state machine of its own
                }
            }
            catch (Exception error)
            {
                return HandleAsync(context, error);
            }
            return AwaitedAsync(context, pending);
        }

        private async Task AwaitedAsync(HttpContext context, Task pending)
        {
            try
            {
                await pending;
                if (NeedsStatusPage(context.Response))
                {
                    await StatusPageAsync(context);
                }
            }
            catch (Exception error)
            {
                await HandleAsync(context, error);
            }
        }

        /// <summary>
        /// An error status no one wrote a body for (routing's 404 and 405, the framework's 413 or 415), or any 5xx,
        /// which is tagged on the request-duration metric even when it has a body.
        /// </summary>
        private static bool NeedsStatusPage(HttpResponse response)
            => response.StatusCode is >= 400 and < 600 && (response.StatusCode >= 500 || Bodiless(response));

        private static bool Bodiless(HttpResponse response)
            => !response.HasStarted && !response.ContentLength.HasValue && string.IsNullOrEmpty(response.ContentType);

        private Task StatusPageAsync(HttpContext context)
        {
            var response = context.Response;
            var status = response.StatusCode;
            if (status >= 500)
            {
                // As the semantic conventions ask (and OpenTelemetry's own middleware for it, removed in
                // MetricsEndpoints, did): a 5xx answered without an exception is tagged with its status code.
                TagErrorType(context, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            if (!Bodiless(response))
            {
                return Task.CompletedTask;
            }
            var message = status switch
            {
                StatusCodes.Status404NotFound => "not found",
                StatusCodes.Status405MethodNotAllowed => $"method {context.Request.Method} is not allowed here",
                StatusCodes.Status413PayloadTooLarge => BodyTooLarge,
                StatusCodes.Status415UnsupportedMediaType => "unsupported content type",
                _ => "request failed",
            };
            return dialects.For(context).WriteErrorAsync(context, status, message);
        }

        private async Task HandleAsync(HttpContext context, Exception error)
        {
            if (error is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
            {
                // The client left (a cancelled read or write, or a reset connection): nobody reads an answer. 499 is
                // what the framework's handler records for it.
                if (!context.Response.HasStarted)
                {
                    context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
                }
                return;
            }
            TagErrorType(context, error.GetType().FullName);
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
            // An error is about this moment: no cache, proxy or browser may keep it.
            context.Response.Headers.CacheControl = "no-cache,no-store";
            context.Response.Headers.Pragma = "no-cache";
            context.Response.Headers.Expires = "-1";
            try
            {
                await dialects.For(context).WriteErrorAsync(context, status, message);
            }
            catch (Exception writing) when (!context.RequestAborted.IsCancellationRequested)
            {
                // The failure that mattered is the request's: log both, and let the server cut the connection over it.
                LogErrorResponseFailed(logger, context.Request.Method, context.Request.Path, error.GetType().Name, writing);
                ExceptionDispatchInfo.Throw(error);
            }
        }

        /// <summary>The first <c>error.type</c> of a request wins: the exception's type over its status code.</summary>
        private static void TagErrorType(HttpContext context, string? value)
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
            metrics.Tags.Add(new(ErrorType, value));
        }

        private const string ErrorType = "error.type";

        [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed with {Status}")]
        private static partial void LogRequestFailed(ILogger logger, string method, string path, int status, Exception? error);

        [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path}: writing the error response for {Failure} failed")]
        private static partial void LogErrorResponseFailed(ILogger logger, string method, string path, string failure, Exception writing);
    }

    private const string BodyTooLarge = "request body too large";

    private static (int Status, string Message) Classify(Exception? error) => error switch
    {
        BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? BodyTooLarge : "bad request"),
        // The cluster or its database cannot answer right now: a retry later will do.
        OrleansException or TimeoutException or OperationCanceledException or Presence.Storage.StorageUnavailableException
            or Presence.Storage.StorageConflictException => (StatusCodes.Status503ServiceUnavailable, "presence service temporarily unavailable, retry shortly"),
        SecurityTokenException => (StatusCodes.Status401Unauthorized, "invalid token"),
        Presence.Channels.ChannelFullException full => (StatusCodes.Status403Forbidden, full.Message),
        _ => (StatusCodes.Status500InternalServerError, "internal error"),
    };
}
