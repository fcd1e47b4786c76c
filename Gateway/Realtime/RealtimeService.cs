using Microsoft.Extensions.Options;
using Presence.Events;

namespace Presence.Gateway.Realtime;

/// <summary>
/// The gateway's realtime clocks: keep-alives (SSE comments, pings of direct WebSockets), lease renewals of held
/// presence and of Stream's channel watchers (all on the presence clock), and renewal of the hub's registrations with grains (on the machine's clock,
/// as the grains judge a gateway's liveness).
/// </summary>
public sealed partial class RealtimeService(
    PresenceEventHub hub,
    HeldPresence held,
    Stream.StreamChatConnections streamChat,
    TimeProvider time,
    IOptions<RealtimeOptions> options,
    ILogger<RealtimeService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        Every(options.Value.KeepAlive, time, ct => hub.SendKeepAlivesAsync(options.Value.KeepAlive / 2, ct), stoppingToken),
        Every(options.Value.Lease / 3, time, held.RenewAsync, stoppingToken),
        Every(options.Value.Lease, time, streamChat.RenewAsync, stoppingToken),
        Every(GatewayWatch.Renewal, TimeProvider.System, hub.RenewAsync, stoppingToken));

    private async Task Every(TimeSpan period, TimeProvider clock, Func<CancellationToken, Task> work, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(period, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await work(stoppingToken);
                }
                catch (Exception error) when (!stoppingToken.IsCancellationRequested)
                {
                    LogRoundFailed(error);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Realtime renewal round failed; the next round retries")]
    private partial void LogRoundFailed(Exception error);
}
