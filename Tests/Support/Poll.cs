namespace Presence.Tests.Support;

/// <summary>
/// Waiting, in real time, for something the system does in the background (a timer, a reminder, a one-way call, a
/// socket noticed closed): the one way every test polls.
/// </summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds; past <paramref name="timeout"/> (10 s) the test fails saying
    /// what it waited for, and <paramref name="details"/> (logs, say). With <paramref name="failuresAreNotYet"/>, a
    /// call that fails (a process restarting) counts as not yet.
    /// </summary>
    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? timeout = null,
        TimeSpan? interval = null, bool failuresAreNotYet = false, Func<string>? details = null)
    {
        var deadline = Environment.TickCount64 + (long)(timeout ?? DefaultTimeout).TotalMilliseconds;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception error) when (failuresAreNotYet && error is HttpRequestException or TaskCanceledException or IOException or Xunit.Sdk.XunitException)
            {
            }
            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}" + (details is null ? "" : $"\n{details()}"));
            }
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>Polls a condition on state in this process.</summary>
    public static Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
        => Until(() => Task.FromResult(condition()), what, timeout);
}
