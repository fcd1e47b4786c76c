namespace Presence.Grains.Storage;

internal static class PersistentStateExtensions
{
    /// <summary>
    /// Writes a grain's state; if that fails the change was not acknowledged, so the activation, whose memory already
    /// holds it, is dropped: the next call reloads what storage really has instead of serving an unsaved change.
    /// </summary>
    public static async Task WriteOrDeactivate<T>(this IPersistentState<T> state, IGrainBase grain, CancellationToken cancellationToken)
    {
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch
        {
            grain.DeactivateOnIdle();
            throw;
        }
    }
}
