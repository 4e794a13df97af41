using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Infery.Api.Catalog;

namespace Infery.Api.Providers;

/// <summary>Sends a request upstream and maps transport failures and error statuses to <see cref="ProviderException"/>.</summary>
public static class UpstreamHttp
{
    /// <summary>
    /// Sends and waits for the response headers within the first-byte timeout. A non-success status is read
    /// and handed to <paramref name="describeError"/>, which turns the provider's error body into a message.
    /// </summary>
    public static Task<HttpResponseMessage> SendAsync(
        HttpClient client, HttpRequestMessage request, ProviderTimeouts timeouts,
        Func<string, string> describeError, CancellationToken ct) =>
        SendAsync(client, request, timeouts, body => new UpstreamError(describeError(body)), ct);

    /// <summary>As above, for a provider whose error body may also name an error code and param to pass on.</summary>
    public static async Task<HttpResponseMessage> SendAsync(
        HttpClient client, HttpRequestMessage request, ProviderTimeouts timeouts,
        Func<string, UpstreamError> describeError, CancellationToken ct)
    {
        using var firstByte = CancellationTokenSource.CreateLinkedTokenSource(ct);
        firstByte.CancelAfter(timeouts.FirstByte);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, firstByte.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ProviderException(ProviderFailure.Timeout, $"no response within {timeouts.FirstByte.TotalSeconds:0.#}s");
        }
        catch (HttpRequestException e) when (e.InnerException is OperationCanceledException or TimeoutException)
        {
            throw new ProviderException(ProviderFailure.Timeout, $"could not connect within {timeouts.Connect.TotalSeconds:0.#}s", inner: e);
        }
        catch (HttpRequestException e)
        {
            throw new ProviderException(ProviderFailure.Unreachable, Describe(e), inner: e);
        }

        if (response.IsSuccessStatusCode)
            return response;
        if ((int)response.StatusCode is >= 300 and < 400 and var redirect)
        {
            response.Dispose();
            throw new ProviderException(ProviderFailure.Unreachable,
                $"the provider redirected ({redirect}); redirects are not followed", redirect);
        }

        using (response)
        {
            string body;
            try
            {
                body = Text(await ReadBoundedAsync(response.Content, MaxErrorBodyBytes, firstByte.Token));
            }
            catch (Exception e) when (e is HttpRequestException or IOException or ProviderException
                or OperationCanceledException && !ct.IsCancellationRequested)
            {
                body = "";
            }
            throw FromStatus((int)response.StatusCode, describeError(body), RetryAfter(response));
        }
    }

    /// <summary>The most a non-streaming answer may hold: a reply is kilobytes, and the gateway keeps it in memory.</summary>
    public const int MaxBodyBytes = 32 * 1024 * 1024;

    private const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>The whole body of a non-streaming answer; an upstream that sends nothing for the idle timeout has stalled.</summary>
    public static async Task<string> ReadBodyAsync(HttpResponseMessage response, TimeSpan idleTimeout, CancellationToken ct) =>
        Text(await ReadBodyUtf8Async(response, idleTimeout, ct));

    /// <summary>The whole body as UTF-8, without the byte order mark that reading it as text would drop.</summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyUtf8Async(HttpResponseMessage response, TimeSpan idleTimeout, CancellationToken ct)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(idleTimeout);
        ReadOnlyMemory<byte> body;
        try
        {
            body = await ReadBoundedAsync(response.Content, MaxBodyBytes, idle.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ProviderException(ProviderFailure.Timeout, $"the response body did not arrive within {idleTimeout.TotalSeconds:0.#}s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new ProviderException(ProviderFailure.Unreachable, "the provider's connection broke while sending the response", inner: e);
        }
        return body.Span.StartsWith("\uFEFF"u8) ? body[3..] : body;
    }

    /// <summary>What went wrong, without the exception's text: it names the upstream's host and port, which clients are not told.</summary>
    private static string Describe(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.NameResolutionError => "its host name did not resolve",
        HttpRequestError.ConnectionError when e.InnerException is SocketException socket => $"the connection failed ({socket.SocketErrorCode})",
        HttpRequestError.ConnectionError => "the connection failed",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.ResponseEnded => "the connection closed before a response",
        HttpRequestError.InvalidResponse => "the response was not valid HTTP",
        _ => "the request could not be sent",
    };

    /// <summary>Upstream text is UTF-8; a malformed sequence becomes U+FFFD rather than failing the reply.</summary>
    private static string Text(ReadOnlyMemory<byte> utf8) => System.Text.Encoding.UTF8.GetString(utf8.Span);

    /// <summary>The body in the buffer it was read into; one byte over its declared length leaves room to read its end.</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBoundedAsync(HttpContent content, int limit, CancellationToken ct)
    {
        if (content.Headers.ContentLength > limit)
            throw TooLarge(limit);
        await using var stream = await content.ReadAsStreamAsync(ct);
        var body = new System.Buffers.ArrayBufferWriter<byte>((int)Math.Clamp((content.Headers.ContentLength ?? 4096) + 1, 1, limit + 1L));
        while (true)
        {
            var read = await stream.ReadAsync(body.GetMemory(), ct);
            if (read == 0)
                return body.WrittenMemory;
            body.Advance(read);
            if (body.WrittenCount > limit)
                throw TooLarge(limit);
        }
    }

    private static ProviderException TooLarge(int limit) =>
        new(ProviderFailure.Malformed, string.Create(CultureInfo.InvariantCulture, $"the response body is larger than {limit:N0} bytes"), 200);

    public static ProviderException FromStatus(int status, string message, TimeSpan? retryAfter = null) =>
        FromStatus(status, new UpstreamError(message), retryAfter);

    /// <summary>The failure a status means; a rejected request (400, 413, 422) keeps the provider's code and param.</summary>
    public static ProviderException FromStatus(int status, UpstreamError error, TimeSpan? retryAfter = null)
    {
        var failure = status switch
        {
            429 => ProviderFailure.RateLimited,
            503 or 529 => ProviderFailure.Overloaded,
            408 or 504 => ProviderFailure.Timeout,
            401 or 403 => ProviderFailure.Unauthorized,
            >= 500 => ProviderFailure.ServerError,
            _ => ProviderFailure.BadRequest,
        };
        return status is 400 or 413 or 422
            ? new ProviderException(failure, error.Message, status, retryAfter, upstreamCode: error.Code, upstreamParam: error.Param)
            : new ProviderException(failure, error.Message, status, retryAfter);
    }

    /// <summary>retry-after-ms, else retry-after in seconds or as an HTTP date.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis))
            return TimeSpan.FromMilliseconds(millis);
        var retryAfter = response.Headers.RetryAfter;
        if (retryAfter?.Delta is { } delta)
            return delta;
        if (retryAfter?.Date is { } date)
            return date - DateTimeOffset.UtcNow is { } wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        return null;
    }

    /// <summary>
    /// A handler per provider: connect timeout and pooled connections, shared by all its requests — of every
    /// workspace, so no cookie a provider sets may travel with the next request. A redirect is not followed:
    /// it would send the request, body and all, somewhere the catalog does not name.
    /// </summary>
    public static HttpClient CreateClient(ProviderTimeouts timeouts) =>
        new(new SocketsHttpHandler
        {
            ConnectTimeout = timeouts.Connect,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.All,
            MaxConnectionsPerServer = 1024,
            UseCookies = false,
            AllowAutoRedirect = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
}

/// <summary>A provider's error body as the gateway reports it: a message, and the provider's code and param if it named them.</summary>
public readonly record struct UpstreamError(string Message, string? Code = null, string? Param = null);
