using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Infery.Bench.Gateway;

/// <summary>
/// Sends chat completions to one base URL and reads every answer to its last byte, checking that it is a
/// whole, successful answer; for the gateway also that it carries its cost (x-credits-used, or a
/// credits_used chunk before [DONE]), which the gateway sends only once the charge is durable.
/// </summary>
public sealed class ChatLoadClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly byte[] CreditsUsed = "\"credits_used\""u8.ToArray();

    private readonly HttpClient client;
    private readonly Uri url;
    private readonly AuthenticationHeaderValue[] keys;
    private readonly bool isGateway;
    private readonly byte[][] buffers;

    public ChatLoadClient(Uri chatCompletionsUrl, IReadOnlyList<string> keys, bool isGateway, int maxCallers)
    {
        client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxCallers * 2,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        url = chatCompletionsUrl;
        this.keys = keys.Select(k => new AuthenticationHeaderValue("Bearer", k)).ToArray();
        this.isGateway = isGateway;
        buffers = Enumerable.Range(0, maxCallers).Select(_ => new byte[16 * 1024]).ToArray();
    }

    public static byte[] RequestBody(string model, bool stream) => Encoding.UTF8.GetBytes(
        "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello in twenty words.\"}],\"max_tokens\":64"
        + (stream ? ",\"stream\":true}" : "}"));

    /// <summary>One request from start to last byte; returns the ticks until the first byte of the body arrived.</summary>
    public async Task<long> SendAsync(int caller, byte[] body, bool stream)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        request.Headers.Authorization = keys[caller % keys.Length];
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        await using var content = await response.Content.ReadAsStreamAsync();
        var buffer = buffers[caller];
        var length = 0;
        long firstByte = 0;
        while (true)
        {
            if (length == buffer.Length)
                Array.Resize(ref buffer, buffer.Length * 2);
            var read = await content.ReadAsync(buffer.AsMemory(length));
            if (read == 0)
                break;
            if (firstByte == 0)
                firstByte = Stopwatch.GetTimestamp() - started;
            length += read;
        }
        buffers[caller] = buffer;

        var received = buffer.AsSpan(0, length);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new BenchRequestException($"HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(received[..Math.Min(length, 500)])}");
        if (stream)
        {
            if (!received.EndsWith(Done))
                throw new BenchRequestException("the stream did not end with [DONE]");
            if (isGateway && received.IndexOf(CreditsUsed) < 0)
                throw new BenchRequestException("the stream carried no credits_used chunk");
        }
        else
        {
            if (length == 0 || received[0] != (byte)'{' || received[^1] != (byte)'}')
                throw new BenchRequestException("the body is not a JSON object");
            if (isGateway && !response.Headers.Contains("x-credits-used"))
                throw new BenchRequestException("the answer has no x-credits-used header");
        }
        return firstByte;
    }

    public void Dispose() => client.Dispose();
}

public sealed class BenchRequestException(string message) : Exception(message);
