using System.Diagnostics.Metrics;
using Bulwark.Platform.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Configuration;

public static class ConfigClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers the configuration client (<see cref="ConfigValues"/>) for the prefixes in
    /// <paramref name="options"/>, started and stopped with the host. Its cache file is read when it
    /// is first resolved; start-up waits at most <see cref="ConfigClientOptions.StartWaitSeconds"/>
    /// for the service. Needs the platform's channel factory (<c>BulwarkHost.CreateBuilder</c> adds it).
    /// </summary>
    public static IServiceCollection AddBulwarkConfig(this IServiceCollection services, ConfigClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(provider => new ConfigValues(
            provider.GetRequiredService<IServiceChannelFactory>(),
            options,
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<ConfigValues>>(),
            provider.GetService<IMeterFactory>()));
        return services.AddHostedService(provider => provider.GetRequiredService<ConfigValues>());
    }
}
