using System.Text.Json.Nodes;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>
/// Default replies of the fake upstreams, each in its provider's documented format, whole or streamed, with
/// usage that exercises every token bucket. The expected charges follow from the catalog in <see cref="ChatGateway"/>.
/// </summary>
public static class ProviderWire
{
    public const string ReplyText = "Hello from the fake upstream.";
    private static readonly string[] ReplyPieces = ["Hello ", "from the ", "fake upstream."];

    /// <summary>1000 prompt tokens of which 400 cached, 200 completion: 600 × 2 + 400 × 1 + 200 × 8 micro-credits.</summary>
    public const long OpenAiCost = 3_200;

    /// <summary>10 input, 1000 cache reads, 200 cache writes, 57 output: 10 × 3 + 1000 × 0.3 + 200 × 3.75 + 57 × 15.</summary>
    public const long AnthropicCost = 1_935;

    /// <summary>1000 prompt tokens of which 800 cached, 30 candidates + 5 thoughts: 200 × 0.3 + 800 × 0.075 + 35 × 2.5 = 207.5, rounded up.</summary>
    public const long GeminiCost = 208;

    // ---- OpenAI chat completions ----

    public static async Task OpenAiReply(HttpContext ctx)
    {
        if (await WantsStreamAsync(ctx))
            await FakeUpstream.WriteSseAsync(ctx, OpenAiStream(ReplyPieces));
        else
            await WriteJsonAsync(ctx, OpenAiCompletion(ReplyText));
    }

    public static string OpenAiCompletion(string text) => $$"""
        {"id":"chatcmpl-upstream","object":"chat.completion","created":1760000000,"model":"gpt-upstream",
         "choices":[{"index":0,"message":{"role":"assistant","content":"{{text}}"},"finish_reason":"stop"}],
         "usage":{{OpenAiUsage}}}
        """;

    private const string OpenAiUsage = """{"prompt_tokens":1000,"completion_tokens":200,"total_tokens":1200,"prompt_tokens_details":{"cached_tokens":400}}""";

    public static IEnumerable<string> OpenAiStream(IEnumerable<string> pieces, bool finish = true)
    {
        yield return OpenAiChunk("""{"role":"assistant","content":""}""", null);
        foreach (var piece in pieces)
            yield return OpenAiChunk(new JsonObject { ["content"] = piece }.ToJsonString(), null);
        if (!finish)
            yield break;
        yield return OpenAiChunk("{}", "stop");
        yield return $$"""data: {"id":"chatcmpl-upstream","object":"chat.completion.chunk","created":1760000000,"model":"gpt-upstream","choices":[],"usage":{{OpenAiUsage}}}""" + "\n\n";
        yield return "data: [DONE]\n\n";
    }

    private static string OpenAiChunk(string delta, string? finishReason) =>
        $$"""data: {"id":"chatcmpl-upstream","object":"chat.completion.chunk","created":1760000000,"model":"gpt-upstream","choices":[{"index":0,"delta":{{delta}},"finish_reason":{{(finishReason is null ? "null" : $"\"{finishReason}\"")}}}]}""" + "\n\n";

    // ---- Anthropic messages ----

    private const string AnthropicStartUsage = """{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}""";
    private const string AnthropicFinalUsage = """{"input_tokens":10,"output_tokens":57,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}""";

    public static async Task AnthropicReply(HttpContext ctx)
    {
        if (await WantsStreamAsync(ctx))
            await FakeUpstream.WriteSseAsync(ctx, AnthropicStream(ReplyPieces));
        else
            await WriteJsonAsync(ctx, $$"""
                {"id":"msg_01","type":"message","role":"assistant","model":"claude-upstream",
                 "content":[{"type":"text","text":"{{ReplyText}}"}],"stop_reason":"end_turn","stop_sequence":null,
                 "usage":{{AnthropicFinalUsage}}}
                """);
    }

    public static IEnumerable<string> AnthropicStream(IEnumerable<string> pieces, bool finish = true)
    {
        yield return AnthropicEvent("message_start", $$$"""
            {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-upstream","stop_reason":null,"stop_sequence":null,"usage":{{{AnthropicStartUsage}}}}}
            """);
        yield return AnthropicEvent("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""");
        yield return AnthropicEvent("ping", """{"type":"ping"}""");
        foreach (var piece in pieces)
            yield return AnthropicEvent("content_block_delta",
                new JsonObject { ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } }.ToJsonString());
        if (!finish)
            yield break;
        yield return AnthropicEvent("content_block_stop", """{"type":"content_block_stop","index":0}""");
        // Anthropic's message_delta usage is cumulative: it repeats the whole count rather than adding to it.
        yield return AnthropicEvent("message_delta", $$"""{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{{AnthropicFinalUsage}}}""");
        yield return AnthropicEvent("message_stop", """{"type":"message_stop"}""");
    }

    public static string AnthropicEvent(string name, string data) => $"event: {name}\ndata: {data.Trim()}\n\n";

    // ---- Gemini generateContent ----

    public static async Task GeminiReply(HttpContext ctx)
    {
        if (ctx.Request.Path.Value!.EndsWith(":streamGenerateContent", StringComparison.Ordinal))
            await FakeUpstream.WriteSseAsync(ctx, GeminiStream());
        else
            await WriteJsonAsync(ctx, $$$"""
                {"candidates":[{"content":{"role":"model","parts":[{"text":"{{{ReplyText}}}"}]},"finishReason":"STOP"}],
                 "usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":30,"thoughtsTokenCount":5,"totalTokenCount":1035}}
                """);
    }

    /// <summary>Every Gemini event carries the usage so far: running totals, not deltas.</summary>
    private static IEnumerable<string> GeminiStream()
    {
        var counts = new[] { (10, 0), (20, 0), (30, 5) };
        for (var i = 0; i < ReplyPieces.Length; i++)
        {
            var (candidates, thoughts) = counts[i];
            var finish = i == ReplyPieces.Length - 1 ? ",\"finishReason\":\"STOP\"" : "";
            var text = new JsonObject { ["text"] = ReplyPieces[i] }.ToJsonString();
            yield return $$$"""
                data: {"candidates":[{"content":{"role":"model","parts":[{{{text}}}]}{{{finish}}}}],"usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":{{{candidates}}},"thoughtsTokenCount":{{{thoughts}}},"totalTokenCount":{{{1000 + candidates + thoughts}}}}}
                """ + "\r\n\r\n";
        }
    }

    // ---- shared ----

    /// <summary>An error status with a JSON body, as providers send them.</summary>
    public static RequestDelegate Status(int status, string body) => async ctx =>
    {
        ctx.Response.StatusCode = status;
        await WriteJsonAsync(ctx, body);
    };

    public static async Task WriteJsonAsync(HttpContext ctx, string json)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(json);
    }

    private static async Task<bool> WantsStreamAsync(HttpContext ctx)
    {
        var body = await JsonNode.ParseAsync(ctx.Request.Body);
        return body?["stream"]?.GetValue<bool>() ?? false;
    }
}
