using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Infery.Api.Tests.Fakes;

/// <summary>
/// Passes TCP connections through to a server, and can cut one of them as a failing network would: the server
/// goes on with what it was doing, the client sees its connection break.
/// </summary>
public sealed class CuttableTcpProxy : IDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint server;
    private readonly ConcurrentDictionary<int, (Socket Client, Socket Server)> byServerSidePort = new();
    private readonly CancellationTokenSource stopping = new();

    public CuttableTcpProxy(string host, int port)
    {
        server = new IPEndPoint(Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork), port);
        listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Cuts the connection whose server side comes from this local port, as the server sees it (its client_port).</summary>
    public bool Cut(int serverSidePort)
    {
        if (!byServerSidePort.TryRemove(serverSidePort, out var pair))
            return false;
        pair.Client.Dispose();
        pair.Server.Dispose();
        return true;
    }

    /// <summary>While down, every connection is cut and new ones are closed as soon as they open, as when the server is gone.</summary>
    public bool Down
    {
        get => down;
        set
        {
            down = value;
            if (value)
                CutAll();
        }
    }

    private volatile bool down;

    /// <summary>
    /// While silent, every connection is cut and new ones are taken but never answered, as when the server hangs: a
    /// client waits out its own timeout. Those held are closed when the proxy speaks again.
    /// </summary>
    public bool Silent
    {
        get => silent;
        set
        {
            silent = value;
            if (value)
                CutAll();
            else
                while (unanswered.TryTake(out var held))
                    held.Dispose();
        }
    }

    private volatile bool silent;
    private readonly ConcurrentBag<Socket> unanswered = [];

    public void Dispose()
    {
        stopping.Cancel();
        listener.Stop();
        CutAll();
    }

    private void CutAll()
    {
        foreach (var port in byServerSidePort.Keys)
            Cut(port);
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            if (down)
            {
                client.Dispose();
                continue;
            }
            if (silent)
            {
                unanswered.Add(client);
                continue;
            }
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await upstream.ConnectAsync(server);
            byServerSidePort[((IPEndPoint)upstream.LocalEndPoint!).Port] = (client, upstream);
            _ = PumpAsync(client, upstream);
            _ = PumpAsync(upstream, client);
        }
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer)) > 0)
                await to.SendAsync(buffer.AsMemory(0, read));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        from.Dispose();
        to.Dispose();
    }
}
