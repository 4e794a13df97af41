using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Infery.Api.Providers.Anthropic;

/// <summary>Serves OpenAI chat completions from Anthropic's Messages API (POST v1/messages).</summary>
public sealed class AnthropicProvider(HttpClient http) : IChatProvider
{
    private const string ApiVersion = "2023-06-01";
    private static readonly Uri DefaultBaseUrl = new("https://api.anthropic.com/");

    public async Task<ChatResult> CompleteAsync(ChatCall call, CancellationToken ct)
    {
        using var response = await SendAsync(call, stream: false, ct);
        var body = await UpstreamHttp.ReadBodyAsync(response, call.Model.Provider.Timeouts.Idle, ct);
        return AnthropicResponseMapper.Map(call, body, AnthropicRequestMapper.WantsJson(call.Request));
    }

    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatCall call, [EnumeratorCancellation] CancellationToken ct)
    {
        using var response = await SendAsync(call, stream: true, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var translator = new AnthropicStreamTranslator(call, AnthropicRequestMapper.WantsJson(call.Request));
        await foreach (var sse in SseReader.ReadAsync(body, call.Model.Provider.Timeouts.Idle, ct))
        {
            if (translator.Translate(sse) is { } chunk)
                yield return ChatStreamItem.Of(chunk, translator.Usage);
            if (translator.Finished)
            {
                if (translator.Usage is { } usage)
                    yield return ChatStreamItem.Final(usage);
                yield break;
            }
        }
        throw AnthropicResponseMapper.Malformed("the stream ended before message_stop");
    }

    private async Task<HttpResponseMessage> SendAsync(ChatCall call, bool stream, CancellationToken ct)
    {
        var provider = call.Model.Provider;
        var body = AnthropicRequestMapper.Map(call, stream);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(provider.BaseUrl ?? DefaultBaseUrl, "v1/messages"))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", ApiVersion);
        if (provider.ApiKey is { } key)
            request.Headers.Add("x-api-key", key);
        if (stream)
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return await UpstreamHttp.SendAsync(http, request, provider.Timeouts, AnthropicResponseMapper.DescribeError, ct);
    }
}
