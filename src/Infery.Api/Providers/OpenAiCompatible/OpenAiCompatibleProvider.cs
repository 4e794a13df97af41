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
        using var response = await UpstreamHttp.SendAsync(http, request, timeouts, DescribeError, ct);

        var completion = ParseObject(await UpstreamHttp.ReadBodyAsync(response, timeouts.Idle, ct), "response body");
        if (completion["error"] is { } error)
            throw FromErrorPayload(error);
        if (completion["choices"] is not JsonArray choices)
            throw new ProviderException(ProviderFailure.Malformed, "the response body has no choices", 200);

        Rebrand(completion, call);
        TokenUsage usage;
        if (completion["usage"] is JsonObject reported)
            usage = ReadUsage(reported);
        else
        {
            // Some self-hosted servers leave usage out; bill and report an estimate rather than nothing.
            usage = new TokenUsage(TokenEstimator.EstimatePrompt(call.Request), TokenEstimator.FromChars(GeneratedChars(choices, "message")));
            completion["usage"] = new JsonObject
            {
                ["prompt_tokens"] = usage.PromptTokens,
                ["completion_tokens"] = usage.CompletionTokens,
                ["total_tokens"] = usage.TotalTokens,
            };
        }
        return new ChatResult(completion, usage);
    }

    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatCall call, [EnumeratorCancellation] CancellationToken ct)
    {
        var timeouts = call.Model.Provider.Timeouts;
        using var request = BuildRequest(call, stream: true);
        using var response = await UpstreamHttp.SendAsync(http, request, timeouts, DescribeError, ct);
        Stream body;
        try
        {
            body = await response.Content.ReadAsStreamAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new ProviderException(ProviderFailure.Unreachable, "the provider's connection broke before the stream began", inner: e);
        }

        TokenUsage? usage = null;
        long generatedChars = 0;
        var finished = false;
        var done = false;
        await foreach (var sse in SseReader.ReadAsync(body, timeouts.Idle, ct))
        {
            if (sse.Data == "[DONE]")
            {
                done = true;
                break;
            }
            if (string.IsNullOrWhiteSpace(sse.Data))
                continue;

            var chunk = ParseObject(sse.Data, "stream chunk");
            if (chunk["error"] is { } error)
                throw FromErrorPayload(error);
            if (chunk["usage"] is JsonObject reported)
                usage = ReadUsage(reported);
            chunk.Remove("usage");
            if (chunk["choices"] is not JsonArray { Count: > 0 } choices)
                continue;

            generatedChars += GeneratedChars(choices, "delta");
            finished |= choices.Any(c => c?["finish_reason"] is JsonValue);
            Rebrand(chunk, call);
            yield return ChatStreamItem.Of(chunk);
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

    private static JsonObject ParseObject(string json, string what)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject
                ?? throw new ProviderException(ProviderFailure.Malformed, $"the {what} is not a JSON object", 200);
        }
        catch (JsonException e)
        {
            throw new ProviderException(ProviderFailure.Malformed, $"the {what} is not valid JSON: {Truncate(json)}", 200, inner: e);
        }
    }

    private static void Rebrand(JsonObject body, ChatCall call)
    {
        body["id"] = call.ResponseId;
        body["created"] = call.Created;
        body["model"] = call.Model.Slug;
    }

    private static TokenUsage ReadUsage(JsonObject usage) => new(
        PromptTokens: IntOf(usage["prompt_tokens"]),
        CompletionTokens: IntOf(usage["completion_tokens"]),
        CachedTokens: IntOf(usage["prompt_tokens_details"]?["cached_tokens"]));

    private static int IntOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<int>(out var number) ? number : 0;

    /// <summary>Characters of text, refusals, reasoning and tool arguments in the choices' messages or deltas.</summary>
    private static long GeneratedChars(JsonArray choices, string part)
    {
        long chars = 0;
        foreach (var choice in choices)
        {
            if (choice?[part] is not JsonObject message)
                continue;
            chars += LengthOf(message["content"]) + LengthOf(message["refusal"])
                + LengthOf(message["reasoning_content"]) + LengthOf(message["reasoning"]);
            if (message["tool_calls"] is JsonArray toolCalls)
            {
                foreach (var toolCall in toolCalls)
                    chars += LengthOf(toolCall?["function"]?["name"]) + LengthOf(toolCall?["function"]?["arguments"]);
            }
        }
        return chars;
    }

    private static int LengthOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>().Length : 0;

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

    /// <summary>OpenAI's envelope {"error":{"message","type","code"}} as one line; other bodies as they came.</summary>
    private static string DescribeError(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return "no error details";
        try
        {
            if (JsonNode.Parse(body) is JsonObject json && json["error"] is { } error)
                return DescribeError(error);
        }
        catch (JsonException)
        {
        }
        return Truncate(body);
    }

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
