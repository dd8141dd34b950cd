using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>A <see cref="FakeConfigService"/> served by Kestrel on a loopback port over HTTP/2, as a real instance is.</summary>
public sealed class FakeConfigServiceHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeConfigServiceHost(WebApplication app, FakeConfigService service, string address)
    {
        _app = app;
        Service = service;
        Address = address;
    }

    public FakeConfigService Service { get; }

    /// <summary>host:port, as the registry holds it.</summary>
    public string Address { get; }

    public static async Task<FakeConfigServiceHost> StartAsync(FakeConfigService service)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<FakeConfigService>();
        await app.StartAsync();
        var uri = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return new FakeConfigServiceHost(app, service, $"{uri.Host}:{uri.Port}");
    }

    public async ValueTask DisposeAsync()
    {
        Service.Shutdown();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A config service that hangs: it accepts TCP connections and never answers a byte (a process
/// paused, a half-dead machine). Connections are held open until disposal.
/// </summary>
public sealed class HangingListener : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _accepted = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public HangingListener()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public int Accepted
    {
        get
        {
            lock (_accepted)
            {
                return _accepted.Count;
            }
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_accepted)
                {
                    _accepted.Add(client);
                }
            }
        }
        catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Disposed.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _accepting.Wait(ConfigClientFixture.WaitMax);
        lock (_accepted)
        {
            foreach (var client in _accepted)
            {
                client.Dispose();
            }
        }
        _stop.Dispose();
    }

    /// <summary>A loopback port nothing listens on (bound, then closed): connecting is refused.</summary>
    public static string ClosedAddress()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }
}
