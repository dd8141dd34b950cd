using System.Net;
using System.Net.Sockets;
using Bulwark.Lab.Faults;

namespace Bulwark.Lab.Tests.Faults;

public sealed class FaultProxyTests
{
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public EchoServer()
        {
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Socket socket;
                    try
                    {
                        socket = await _listener.AcceptSocketAsync(_stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    _ = Task.Run(async () =>
                    {
                        using (socket)
                        {
                            var buffer = new byte[4096];
                            try
                            {
                                int read;
                                while ((read = await socket.ReceiveAsync(buffer, _stop.Token)) > 0)
                                {
                                    await socket.SendAsync(buffer.AsMemory(0, read), _stop.Token);
                                }
                            }
                            catch (Exception exception) when (exception is SocketException or OperationCanceledException)
                            {
                                // Closed.
                            }
                        }
                    });
                }
            });
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }

    private static async Task<Socket> ConnectAsync(FaultProxy proxy)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy.EndPoint);
        return socket;
    }

    private static async Task<string> RoundTripAsync(Socket socket, string text, int timeoutMilliseconds = 5000)
    {
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(text));
        var buffer = new byte[text.Length];
        var received = 0;
        using var timeout = new CancellationTokenSource(timeoutMilliseconds);
        while (received < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(received), timeout.Token);
            if (read == 0)
            {
                break;
            }
            received += read;
        }
        return System.Text.Encoding.ASCII.GetString(buffer, 0, received);
    }

    [Fact]
    public async Task Pass_WithLatencyAndBandwidth_ForwardsEveryByte()
    {
        await using var echo = new EchoServer();
        await using var proxy = FaultProxy.Start(echo.EndPoint);
        proxy.Latency = TimeSpan.FromMilliseconds(20);
        proxy.BandwidthBytesPerSecond = 10_000;
        using var socket = await ConnectAsync(proxy);

        Assert.Equal("hello through the proxy", await RoundTripAsync(socket, "hello through the proxy"));
    }

    [Fact]
    public async Task Blackhole_KeepsConnectionOpenForwardsNothing_ThenResumesIntact()
    {
        await using var echo = new EchoServer();
        await using var proxy = FaultProxy.Start(echo.EndPoint);
        using var socket = await ConnectAsync(proxy);
        Assert.Equal("before", await RoundTripAsync(socket, "before"));

        proxy.Mode = FaultMode.Blackhole;
        await socket.SendAsync("during"u8.ToArray());
        var buffer = new byte[16];
        using (var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await socket.ReceiveAsync(buffer, wait.Token));
        }
        Assert.Equal(1, proxy.OpenConnections);

        proxy.Mode = FaultMode.Pass;
        var read = 0;
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            while (read < "during".Length)
            {
                read += await socket.ReceiveAsync(buffer.AsMemory(read), wait.Token);
            }
        }
        Assert.Equal("during", System.Text.Encoding.ASCII.GetString(buffer, 0, read));
    }

    [Fact]
    public async Task Reset_AbortsOpenConnectionsAndRefusesNewOnes()
    {
        await using var echo = new EchoServer();
        await using var proxy = FaultProxy.Start(echo.EndPoint);
        using var socket = await ConnectAsync(proxy);
        Assert.Equal("x", await RoundTripAsync(socket, "x"));

        proxy.Mode = FaultMode.Reset;

        Assert.True(await EndsAsync(socket), "open connection not aborted");
        // On loopback the reset can even arrive before connect returns.
        var lateEnded = true;
        try
        {
            using var late = await ConnectAsync(proxy);
            lateEnded = await EndsAsync(late);
        }
        catch (SocketException)
        {
            lateEnded = true;
        }
        Assert.True(lateEnded, "new connection not reset");
        // The proxy forgets an aborted connection when its relay task ends, just after the reset.
        Assert.True(await EventuallyAsync(() => proxy.OpenConnections == 0, TimeSpan.FromSeconds(5)));
    }

    /// <summary>True when the connection ends (reset or closed) instead of echoing data.</summary>
    private static async Task<bool> EndsAsync(Socket socket)
    {
        try
        {
            for (var i = 0; i < 20; i++)
            {
                await socket.SendAsync("y"u8.ToArray());
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                if (await socket.ReceiveAsync(new byte[1], wait.Token) == 0)
                {
                    return true;
                }
            }
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (DateTime.UtcNow < deadline && !condition())
        {
            await Task.Delay(50);
        }
        return condition();
    }
}
