using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Catalog;

namespace Infery.Api.Providers.OpenAiCompatible;

/// <summary>
/// Upstreams that speak OpenAI's Chat Completions themselves: OpenAI, xAI, Groq, Together, vLLM, Ollama.
/// The client's JSON goes out as sent, so fields this gateway does not model still reach the upstream; only
/// the model is swapped for the upstream's name. Responses come back with the gateway's id, created and slug.
/// </summary>
public sealed class OpenAiCompatibleProvider(HttpClient http) : IChatProvider
{
    public async Task<ChatResult> CompleteAsync(ChatCall call, CancellationToken ct)
    {
        var timeouts = call.Model.Provider.Timeouts;
        using var request = BuildRequest(call, stream: false);
        using var response = await UpstreamHttp.SendAsync(http, request, timeouts, ErrorOf, ct);
        var body = await UpstreamHttp.ReadBodyUtf8Async(response, timeouts.Idle, ct);

        using var rewriter = new OpenAiJsonRewriter(call, initialCapacity: body.Length + 256);
        var completion = Read(rewriter, body.Span, chunk: false);
        if (completion.ChoiceCount is null)
            throw new ProviderException(ProviderFailure.Malformed, "the response body has no choices", 200);
        if (completion.Usage is { } reported)
            return new ChatResult(ChatJson.FromUtf8(rewriter.RewriteCompletion(body.Span, estimate: null)), reported);

        // Some self-hosted servers leave usage out; bill and report an estimate rather than nothing.
        var estimate = new TokenUsage(TokenEstimator.EstimatePrompt(call.Request), TokenEstimator.FromChars(completion.GeneratedChars));
        return new ChatResult(ChatJson.FromUtf8(rewriter.RewriteCompletion(body.Span, estimate)), estimate);
    }

    /// <summary>
    /// The upstream's chunks, each rewritten into one buffer that the next reuses: <see cref="ChatStreamItem"/>
    /// says so to the consumer, who writes each chunk out before asking for the next.
    /// </summary>
    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatCall call, [EnumeratorCancellation] CancellationToken ct)
    {
        var timeouts = call.Model.Provider.Timeouts;
        using var request = BuildRequest(call, stream: true);
        using var response = await UpstreamHttp.SendAsync(http, request, timeouts, ErrorOf, ct);
        Stream body;
        try
        {
            body = await response.Content.ReadAsStreamAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new ProviderException(ProviderFailure.Unreachable, "the provider's connection broke before the stream began", inner: e);
        }

        using var events = new Utf8SseReader(body, timeouts.Idle, ct);
        using var rewriter = new OpenAiJsonRewriter(call);
        TokenUsage? usage = null;
        long generatedChars = 0;
        var finished = false;
        var done = false;
        while (await events.ReadAsync())
        {
            var data = events.Data;
            if (data.Span.SequenceEqual("[DONE]"u8))
            {
                done = true;
                break;
            }
            if (IsBlank(data.Span))
                continue;

            var chunk = Read(rewriter, data.Span, chunk: true);
            if (chunk.Usage is { } reported)
                usage = reported;
            if (chunk.ChoiceCount is not > 0)
                continue;

            generatedChars += chunk.GeneratedChars;
            finished |= chunk.Finished;
            yield return ChatStreamItem.Of(ChatJson.FromUtf8(chunk.Rewritten, chunk.ReceivedChars));
        }

        if (!done && !finished)
            throw new ProviderException(ProviderFailure.ServerError, "the stream ended before the reply was finished", 200);
        yield return ChatStreamItem.Final(usage
            ?? new TokenUsage(TokenEstimator.EstimatePrompt(call.Request), TokenEstimator.FromChars(generatedChars)));
    }

    private static HttpRequestMessage BuildRequest(ChatCall call, bool stream)
    {
        var provider = call.Model.Provider;
        var request = new HttpRequestMessage(HttpMethod.Post, ChatCompletionsUrl(provider))
        {
            Content = new ByteArrayContent(RequestBody(call.Request.Body, call.Model.UpstreamModel, stream)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(stream ? "text/event-stream" : "application/json"));
        if (provider.ApiKey is { Length: > 0 } key)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    /// <summary>
    /// The client's body as sent, written straight to bytes with the upstream's model name. Streams always ask
    /// for usage, since that is what we bill by; a non-streaming call drops stream_options, which OpenAI refuses there.
    /// </summary>
    private static byte[] RequestBody(JsonObject body, string upstreamModel, bool stream)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", upstreamModel);
            json.WriteBoolean("stream", stream);
            WritePropertiesExcept(json, body, "model", "stream", "stream_options");
            if (stream)
            {
                json.WriteStartObject("stream_options");
                if (body["stream_options"] is JsonObject clientOptions)
                    WritePropertiesExcept(json, clientOptions, "include_usage");
                json.WriteBoolean("include_usage", true);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WritePropertiesExcept(Utf8JsonWriter json, JsonObject source, params ReadOnlySpan<string> skipped)
    {
        foreach (var (name, value) in source)
        {
            if (skipped.Contains(name))
                continue;
            json.WritePropertyName(name);
            if (value is null)
                json.WriteNullValue();
            else
                value.WriteTo(json);
        }
    }

    private static Uri ChatCompletionsUrl(ProviderConfig provider)
    {
        var baseUrl = provider.BaseUrl
            ?? throw new InvalidOperationException($"Provider '{provider.Name}' has no base URL.");
        var withSlash = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        return new Uri(withSlash, "chat/completions");
    }

    /// <summary>
    /// Rewrites a chunk, or reads a completion body, failing a reply that is not a JSON object as Malformed and
    /// one that carries an error as that error.
    /// </summary>
    private static UpstreamJson Read(OpenAiJsonRewriter rewriter, ReadOnlySpan<byte> json, bool chunk)
    {
        var what = chunk ? "stream chunk" : "response body";
        UpstreamJson found;
        try
        {
            found = chunk ? rewriter.RewriteChunk(json) : rewriter.ReadCompletion(json);
        }
        catch (JsonException e)
        {
            throw new ProviderException(ProviderFailure.Malformed, $"the {what} is not valid JSON: {Truncate(Encoding.UTF8.GetString(json))}", 200, inner: e);
        }
        if (!found.IsObject)
            throw new ProviderException(ProviderFailure.Malformed, $"the {what} is not a JSON object", 200);
        if (found.HasError)
            throw FromErrorPayload(JsonNode.Parse(Encoding.UTF8.GetString(json))!["error"]!);
        return found;
    }

    /// <summary>Only whitespace, as string.IsNullOrWhiteSpace has it.</summary>
    private static bool IsBlank(ReadOnlySpan<byte> data)
    {
        var rest = data.TrimStart(" \t\n\v\f\r"u8);
        return rest.IsEmpty || (rest[0] >= 0x80 && string.IsNullOrWhiteSpace(Encoding.UTF8.GetString(rest)));
    }

    /// <summary>An error event inside a 200 stream or body, classified by its code or type.</summary>
    private static ProviderException FromErrorPayload(JsonNode error)
    {
        var message = DescribeError(error);
        var code = error is JsonObject ? error["code"]?.ToString() : null;
        var type = error is JsonObject ? error["type"]?.ToString() : null;
        var failure = (code, type) switch
        {
            ("429", _) => ProviderFailure.RateLimited,
            ("503" or "529", _) => ProviderFailure.Overloaded,
            _ when Mentions(code, type, "overloaded") || Mentions(code, type, "unavailable") => ProviderFailure.Overloaded,
            _ when Mentions(code, type, "rate_limit") || type is "tokens" or "requests" => ProviderFailure.RateLimited,
            _ => ProviderFailure.ServerError,
        };
        return new ProviderException(failure, message, 200);
    }

    private static bool Mentions(string? code, string? type, string word) =>
        (code?.Contains(word, StringComparison.OrdinalIgnoreCase) ?? false) || (type?.Contains(word, StringComparison.OrdinalIgnoreCase) ?? false);

    /// <summary>
    /// OpenAI's envelope {"error":{"message","type","code","param"}} as one line, with its code and param when they are
    /// strings; other bodies as they came.
    /// </summary>
    private static UpstreamError ErrorOf(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return new UpstreamError("no error details");
        try
        {
            if (JsonNode.Parse(body) is JsonObject json && json["error"] is { } error)
                return new UpstreamError(DescribeError(error), StringOf(error, "code"), StringOf(error, "param"));
        }
        catch (JsonException)
        {
        }
        return new UpstreamError(Truncate(body));
    }

    private static string? StringOf(JsonNode error, string name) =>
        error is JsonObject details && details[name] is JsonValue value && value.TryGetValue<string>(out var text) && text.Length is > 0 and <= 100
            ? text
            : null;

    private static string DescribeError(JsonNode error)
    {
        if (error is not JsonObject details)
            return Truncate(error.ToString());
        var message = details["message"]?.ToString() is { Length: > 0 } text ? text : "no message";
        var labels = new[] { ("type", details["type"]), ("code", details["code"]), ("param", details["param"]) }
            .Where(label => label.Item2 is JsonValue)
            .Select(label => $"{label.Item1}: {label.Item2}");
        var suffix = string.Join(", ", labels);
        return suffix.Length == 0 ? message : $"{message} ({suffix})";
    }

    private static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "...";
}
