using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using Presence.Storage;

namespace Presence.Hosting.Storage;

/// <summary>
/// Wraps a grain storage provider so that a database failure (PostgreSQL down, a broken connection) surfaces as a
/// <see cref="StorageUnavailableException"/>: a type Orleans can send back to the caller (the driver's exceptions
/// cannot cross the wire), on reads during activation as well as on writes. The gateway answers it with 503.
/// </summary>
public sealed class FailFastGrainStorage(IGrainStorage inner) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        => Guard(() => inner.ReadStateAsync(stateName, grainId, grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        => Guard(() => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        => Guard(() => inner.ClearStateAsync(stateName, grainId, grainState));

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    private static async Task Guard(Func<Task> operation)
    {
        try
        {
            await operation();
        }
        catch (Exception error) when (DatabaseError(error) is { } database)
        {
            throw new StorageUnavailableException($"storage unavailable: {database.Message}");
        }
    }

    private static DbException? DatabaseError(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is DbException database)
            {
                return database;
            }
        }
        return null;
    }

    /// <summary>Puts the wrapper around the storage provider registered under <paramref name="name"/>.</summary>
    public static void Decorate(IServiceCollection services, string name)
    {
        var registered = services.Last(d => d.IsKeyedService && Equals(d.ServiceKey, name) && d.ServiceType == typeof(IGrainStorage));
        services.Remove(registered);
        services.AddKeyedSingleton<IGrainStorage>(name, (provider, key) => new FailFastGrainStorage(registered switch
        {
            { KeyedImplementationFactory: { } factory } => (IGrainStorage)factory(provider, key),
            { KeyedImplementationInstance: IGrainStorage instance } => instance,
            _ => (IGrainStorage)ActivatorUtilities.CreateInstance(provider, registered.KeyedImplementationType!),
        }));
    }
}
