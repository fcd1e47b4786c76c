using Microsoft.Extensions.Options;

namespace Presence.Hosting;

/// <summary>What the Silo and Gateway programs print when start-up meets bad configuration: one line, no stack trace.</summary>
public static class ConfigurationErrors
{
    /// <summary>"Configuration error: ..." for a configuration failure, or null for any other exception.</summary>
    public static string? Describe(Exception error) => error switch
    {
        OptionsValidationException invalid => Line(invalid.Failures),
        // More than one options type is wrong: still one line, every failure in it.
        AggregateException several when several.InnerExceptions.All(e => e is OptionsValidationException)
            => Line(several.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures)),
        // A value of the wrong type (a duration that is not one, a number that is not one): the binder's own words.
        InvalidOperationException unreadable when unreadable.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
            => Line([unreadable.Message]),
        _ => null,
    };

    private static string Line(IEnumerable<string> failures) => $"Configuration error: {string.Join(" ", failures)}";
}
