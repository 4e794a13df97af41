using System.Runtime.CompilerServices;
using System.Text;

namespace Infery.Api.Providers.Gemini;

/// <summary>
/// Google's Gemini API: generateContent for whole responses, streamGenerateContent?alt=sse for streams,
/// authenticated by the x-goog-api-key header.
/// </summary>
public sealed class GeminiProvider(HttpClient http) : IChatProvider
{
    private static readonly Uri DefaultBaseUrl = new("https://generativelanguage.googleapis.com/");

    public async Task<ChatResult> CompleteAsync(ChatCall call, CancellationToken ct)
    {
        using var response = await SendAsync(call, "generateContent", ct);
        var body = await UpstreamHttp.ReadBodyAsync(response, call.Model.Provider.Timeouts.Idle, ct);
        return GeminiResponseTranslator.ToResult(body, call);
    }

    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatCall call, [EnumeratorCancellation] CancellationToken ct)
    {
        using var response = await SendAsync(call, "streamGenerateContent?alt=sse", ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var translator = new GeminiStreamTranslator(call);

        await foreach (var sse in SseReader.ReadAsync(body, call.Model.Provider.Timeouts.Idle, ct))
        {
            foreach (var chunk in translator.Translate(sse.Data))
                yield return ChatStreamItem.Of(chunk, translator.Usage);
        }
        foreach (var chunk in translator.Complete())
            yield return ChatStreamItem.Of(chunk);
        if (translator.Usage is { } usage)
            yield return ChatStreamItem.Final(usage);
    }

    private async Task<HttpResponseMessage> SendAsync(ChatCall call, string method, CancellationToken ct)
    {
        var payload = GeminiRequestMapper.Map(call.Request);
        var provider = call.Model.Provider;
        var url = new Uri(provider.BaseUrl ?? DefaultBaseUrl, $"v1beta/models/{call.Model.UpstreamModel}:{method}");
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (provider.ApiKey is { } apiKey)
            request.Headers.Add("x-goog-api-key", apiKey);

        GeminiError? error = null;
        try
        {
            return await UpstreamHttp.SendAsync(http, request, provider.Timeouts, body =>
            {
                error = GeminiError.Parse(body);
                return GeminiError.DescribeBody(body);
            }, ct);
        }
        // Gemini answers a bad key with 400 INVALID_ARGUMENT; it is our credential at fault, not the client's request.
        catch (ProviderException e) when (error is { IsInvalidApiKey: true })
        {
            throw new ProviderException(ProviderFailure.Unauthorized, e.Message, e.UpstreamStatus, e.RetryAfter, e);
        }
    }
}
