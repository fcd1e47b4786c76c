using Microsoft.AspNetCore.Http.HttpResults;
using Presence.Gateway.Auth;

namespace Presence.Gateway.Hosting;

/// <summary>
/// <c>POST /admin/gc</c> (with <c>Presence:Diagnostics:Enabled=true</c> and an admin token of the operators' tenant):
/// a full, compacting garbage collection, then the managed heap and resident memory of this process. For the memory
/// benchmark and for operators measuring what an online user costs; off by default, since a forced collection pauses
/// the process, and one at a time (another call meanwhile is 429).
/// </summary>
public static class DiagnosticsEndpoints
{
    public static WebApplication MapPresenceDiagnostics(this WebApplication app)
    {
        if (!app.Configuration.GetValue<bool>("Presence:Diagnostics:Enabled"))
        {
            return app;
        }
        app.MapPost("/admin/gc", Collect)
            .RequireAuthorization()
            .WithTags("operations")
            .WithName("CollectGarbage")
            .WithMetadata(new DialectMetadata(PlainDialect.Instance));
        return app;
    }

    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    public static Results<Ok<MemoryReport>, ForbidHttpResult, StatusCodeHttpResult> Collect(HttpContext http, IConfiguration configuration)
    {
        if (!Operators.IsOperator(Caller.Of(http), configuration))
        {
            return TypedResults.Forbid();
        }
        if (!OneAtATime.Wait(0))
        {
            return TypedResults.StatusCode(StatusCodes.Status429TooManyRequests);
        }
        try
        {
            return TypedResults.Ok(CollectNow());
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    private static MemoryReport CollectNow()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        // Aggressive: compacts everything and gives the memory it no longer needs back to the system, so resident
        // memory shows what is live rather than what a past peak left committed.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        return new MemoryReport(GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64, info.TotalCommittedBytes);
    }
}

/// <summary>Live managed objects, the process's resident memory, and what the GC keeps committed.</summary>
public sealed record MemoryReport(long ManagedHeapBytes, long ResidentBytes, long GcCommittedBytes);
