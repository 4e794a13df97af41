using System.Text.Json.Nodes;
using static Infery.Api.Providers.Gemini.GeminiResponseTranslator;

namespace Infery.Api.Providers.Gemini;

/// <summary>
/// Turns the events of one streamGenerateContent?alt=sse response into OpenAI chat.completion.chunks.
/// Every event is a whole GenerateContentResponse holding a text delta and the usage so far.
/// </summary>
internal sealed class GeminiStreamTranslator(ChatCall call)
{
    private readonly SortedDictionary<int, ChoiceState> choices = [];
    private GeminiUsage? usage;
    private bool anyEvent;

    /// <summary>
    /// The usage of the last event that carried any (Gemini's counts are running totals, not deltas); null while
    /// none has, so that a stream without counts is billed by estimate rather than as free.
    /// </summary>
    public TokenUsage? Usage => usage?.ToTokenUsage();

    public List<JsonObject> Translate(string data)
    {
        var response = ParseResponse(data);
        try
        {
            return TranslateResponse(response);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw Malformed($"unexpected shape of a stream event: {e.Message}", e);
        }
    }

    /// <summary>The chunks that close choices Gemini left open when its stream ended.</summary>
    public List<JsonObject> Complete()
    {
        if (!anyEvent)
            throw Malformed("the stream ended without any event");

        // Gemini puts a finishReason on its last event; a stream that ends cleanly without one still
        // closes each choice so clients stop waiting for it.
        var chunks = new List<JsonObject>();
        foreach (var (index, state) in choices.Where(c => !c.Value.Finished))
        {
            chunks.Add(Chunk(index, new JsonObject(), state.ToolCallCount > 0 ? "tool_calls" : "stop"));
            state.Finished = true;
        }
        return chunks;
    }

    private List<JsonObject> TranslateResponse(JsonObject response)
    {
        anyEvent = true;
        if (ReadUsage(response) is { } latest)
            usage = latest;

        var chunks = new List<JsonObject>();
        var candidates = Candidates(response);
        if (candidates.Count == 0 && BlockReason(response) is not null)
        {
            var state = Start(0, chunks);
            if (!state.Finished)
            {
                chunks.Add(Chunk(0, new JsonObject(), "content_filter"));
                state.Finished = true;
            }
            return chunks;
        }

        for (var position = 0; position < candidates.Count; position++)
        {
            var candidate = candidates[position];
            var index = CandidateIndex(candidate, position);
            var state = Start(index, chunks);
            var content = ReadContent(candidate);

            if (!string.IsNullOrEmpty(content.Text))
                chunks.Add(Chunk(index, new JsonObject { ["content"] = content.Text }));

            if (content.FunctionCalls.Count > 0)
            {
                var toolCalls = new JsonArray();
                foreach (var functionCall in content.FunctionCalls)
                {
                    var toolCall = functionCall.ToOpenAiToolCall();
                    toolCall.Insert(0, "index", state.ToolCallCount++);
                    toolCalls.Add(toolCall);
                }
                chunks.Add(Chunk(index, new JsonObject { ["tool_calls"] = toolCalls }));
            }

            if (candidate["finishReason"] is not null && !state.Finished)
            {
                chunks.Add(Chunk(index, new JsonObject(), FinishReason(candidate, state.ToolCallCount > 0)));
                state.Finished = true;
            }
        }
        return chunks;
    }

    /// <summary>The state of a choice; on its first appearance, the chunk that opens it with the assistant role.</summary>
    private ChoiceState Start(int index, List<JsonObject> chunks)
    {
        if (choices.TryGetValue(index, out var state))
            return state;
        choices[index] = state = new ChoiceState();
        chunks.Add(Chunk(index, new JsonObject { ["role"] = "assistant", ["content"] = "" }));
        return state;
    }

    private JsonObject Chunk(int index, JsonObject delta, string? finishReason = null) => new()
    {
        ["id"] = call.ResponseId,
        ["object"] = "chat.completion.chunk",
        ["created"] = call.Created,
        ["model"] = call.Model.Slug,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = index,
            ["delta"] = delta,
            ["finish_reason"] = finishReason,
        }),
    };

    private sealed class ChoiceState
    {
        public int ToolCallCount { get; set; }

        public bool Finished { get; set; }
    }
}
