using Microsoft.Extensions.Options;

namespace Presence.Gateway.Stream;

public static class StreamHosting
{
    /// <summary>The Stream Chat apps (<c>Presence:Stream</c>), validated at start-up, and their tokens.</summary>
    public static WebApplicationBuilder AddStream(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StreamOptions>().BindConfiguration(StreamOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<StreamOptions>, StreamOptionsValidation>();
        builder.Services.AddSingleton<StreamTokens>();
        builder.Services.AddSingleton<StreamChatConnections>();
        return builder;
    }

    /// <summary>Says each problem of the configuration, one line each (the default validation says only "invalid").</summary>
    private sealed class StreamOptionsValidation : IValidateOptions<StreamOptions>
    {
        public ValidateOptionsResult Validate(string? name, StreamOptions options)
            => options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
