using System.ClientModel.Primitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Infery.Api.Chat;
using Infery.Api.Providers;
using Infery.Api.Providers.Estimates;
using Infery.Api.Providers.Simulator;
using static Infery.Api.Tests.Providers.TestChat;

namespace Infery.Api.Tests.Providers.Simulator;

public sealed class SimulatorProviderTests
{
    private const string WeatherSchema = """
        {"type":"object","properties":{
           "city":{"type":"string","minLength":2},
           "days":{"type":"integer","minimum":3,"maximum":10},
           "threshold":{"type":"number","exclusiveMinimum":0},
           "metric":{"type":"boolean"},
           "unit":{"type":"string","enum":["celsius","fahrenheit"]},
           "tags":{"type":"array","items":{"type":"string"},"minItems":2},
           "when":{"type":"string","format":"date"},
           "location":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},"required":["lat","lon"]}
         },
         "required":["city","days","unit","location"],"additionalProperties":false}
        """;

    private readonly SimulatorProvider simulator = new();

    [Fact]
    public async Task The_same_request_gets_the_same_reply_in_openai_shape()
    {
        var call = Call(Request([SystemMessage("Be brief."), User("Tell me about the harbour in Hamburg")]), Model("sim-chat", slug: "infery/sim"));

        var first = await simulator.CompleteAsync(call, default);
        var second = await simulator.CompleteAsync(call, default);

        second.Completion.ToObject().ToJsonString().ShouldBe(first.Completion.ToObject().ToJsonString());
        var body = first.Completion.ToObject();
        body["id"]!.GetValue<string>().ShouldBe("chatcmpl-test123");
        body["object"]!.GetValue<string>().ShouldBe("chat.completion");
        body["created"]!.GetValue<long>().ShouldBe(1_767_225_600);
        body["model"]!.GetValue<string>().ShouldBe("infery/sim");
        body["system_fingerprint"]!.GetValue<string>().ShouldBe("fp_infery_sim");
        var choice = body["choices"]!.AsArray().ShouldHaveSingleItem()!;
        choice["index"]!.GetValue<int>().ShouldBe(0);
        choice["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        choice.AsObject().ContainsKey("logprobs").ShouldBeTrue();
        choice["message"]!["role"]!.GetValue<string>().ShouldBe("assistant");
        choice["message"]!["content"]!.GetValue<string>().ShouldContain("Tell me about the harbour in Hamburg");
        var usage = body["usage"]!;
        usage["total_tokens"]!.GetValue<int>().ShouldBe(usage["prompt_tokens"]!.GetValue<int>() + usage["completion_tokens"]!.GetValue<int>());
        usage["prompt_tokens_details"]!["cached_tokens"]!.GetValue<int>().ShouldBe(0);
        usage["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>().ShouldBe(0);
    }

    [Fact]
    public async Task Usage_is_the_estimate_of_the_prompt_and_of_the_text_produced()
    {
        var request = Request([User(new TextPart("How many tokens is this? "), new TextPart("and this"))]);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-claude")), default);

        var content = Content(result.Completion.ToObject());
        result.Usage.PromptTokens.ShouldBe(TokenEstimator.EstimatePrompt(request));
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.Count(content));
        result.Usage.CompletionTokens.ShouldBeGreaterThan(0);
        result.Completion.ToObject()["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBe(result.Usage.CompletionTokens);
        result.Completion.ToObject()["usage"]!["prompt_tokens"]!.GetValue<int>().ShouldBe(result.Usage.PromptTokens);
    }

    [Fact]
    public async Task The_reply_mentions_images_audio_and_files()
    {
        var request = Request([User(
            new TextPart("What is in these?"),
            new ImagePart("data:image/png;base64,iVBOR", "auto"),
            new ImagePart("https://example.com/a.jpg", "low"),
            new AudioPart("UklGR", "wav"),
            new FilePart("report.pdf", "data:application/pdf;base64,JVBER", null))]);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        Content(result.Completion.ToObject()).ShouldContain("2 images, 1 audio clip and 1 file (report.pdf)");
        result.Usage.PromptTokens.ShouldBe(TokenEstimator.EstimatePrompt(request));
        // Neither image's size can be read; the PDF is a page.
        result.Usage.PromptTokens.ShouldBeGreaterThan(2 * ImageTokens.UnknownSize + FileTokens.PerPdfPage);
    }

    [Fact]
    public async Task Given_tools_it_calls_the_first_with_arguments_that_match_its_schema()
    {
        var request = Request([User("Weather in Lisbon next week?")], tools: [Tool("get_weather", WeatherSchema), Tool("other", """{"type":"object"}""")]);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var choice = result.Completion.ToObject()["choices"]![0]!;
        choice["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        choice["message"]!["content"].ShouldBeNull();
        var toolCall = choice["message"]!["tool_calls"]!.AsArray().ShouldHaveSingleItem()!;
        toolCall["id"]!.GetValue<string>().ShouldMatch("^call_[0-9a-f]{24}$");
        toolCall["type"]!.GetValue<string>().ShouldBe("function");
        toolCall["function"]!["name"]!.GetValue<string>().ShouldBe("get_weather");
        var arguments = toolCall["function"]!["arguments"]!.GetValue<string>();
        AssertMatchesWeatherSchema(JsonNode.Parse(arguments)!.AsObject());
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.Count(arguments));

        var again = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);
        again.Completion.ToObject()["choices"]![0]!["message"]!["tool_calls"]![0]!["id"]!.GetValue<string>().ShouldBe(toolCall["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_named_tool_choice_picks_that_tool()
    {
        var request = Request([User("go")], tools: [Tool("first", """{"type":"object"}"""), Tool("get_weather", WeatherSchema)],
            toolChoice: new ToolChoice("function", "get_weather"));

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var function = result.Completion.ToObject()["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!;
        function["name"]!.GetValue<string>().ShouldBe("get_weather");
        AssertMatchesWeatherSchema(JsonNode.Parse(function["arguments"]!.GetValue<string>())!.AsObject());
    }

    [Fact]
    public async Task Tool_choice_none_and_a_tool_result_get_text_answers()
    {
        var tools = new[] { Tool("get_weather", WeatherSchema) };
        var none = Request([User("hi")], tools: tools, toolChoice: ToolChoice.None);
        var afterTool = Request([
            User("Weather in Lisbon?"),
            new ChatMessage("assistant", [], ToolCalls: [new ToolCall("call_1", "get_weather", """{"city":"Lisbon"}""")]),
            new ChatMessage("tool", [new TextPart("21C and sunny")], ToolCallId: "call_1"),
        ], tools: tools);

        var noneResult = await simulator.CompleteAsync(Call(none, Model("sim-chat")), default);
        var afterToolResult = await simulator.CompleteAsync(Call(afterTool, Model("sim-chat")), default);

        noneResult.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        afterToolResult.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        Content(afterToolResult.Completion.ToObject()).ShouldContain("The tool get_weather returned \"21C and sunny\"");
    }

    [Fact]
    public async Task Json_schema_output_conforms_to_the_schema()
    {
        var schema = JsonNode.Parse("""
            {"type":"object","properties":{
               "title":{"type":"string","maxLength":5},
               "score":{"type":["number","null"]},
               "count":{"type":"integer","exclusiveMaximum":0},
               "author":{"$ref":"#/$defs/person"},
               "reviewers":{"type":"array","items":{"$ref":"#/$defs/person"},"maxItems":1},
               "status":{"anyOf":[{"type":"null"},{"const":"draft"}]}
             },
             "required":["title","score","count","author","reviewers","status"],
             "$defs":{"person":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":18}},"required":["name","age"]}}}
            """)!.AsObject();
        var request = Request([User("Summarise the article")], responseFormat: new ResponseFormat("json_schema", "article", schema, Strict: true));

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var document = JsonNode.Parse(Content(result.Completion.ToObject()))!.AsObject();
        document["title"]!.GetValue<string>().Length.ShouldBeLessThanOrEqualTo(5);
        document["score"]!.GetValueKind().ShouldBe(JsonValueKind.Number);
        document["count"]!.GetValue<long>().ShouldBeLessThan(0);
        AssertPerson(document["author"]!);
        AssertPerson(document["reviewers"]!.AsArray().ShouldHaveSingleItem()!);
        document["status"]!.GetValue<string>().ShouldBe("draft");
    }

    [Theory]
    [InlineData("""{"type":"array","minItems":2000000000}""")]
    [InlineData("""{"type":"array","minItems":1000,"items":{"type":"array","minItems":1000,"items":{"type":"array","minItems":1000}}}""")]
    [InlineData("""{"type":"string","minLength":2000000000}""")]
    [InlineData("""{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"l":{"$ref":"#/$defs/node"},"r":{"$ref":"#/$defs/node"}},"required":["l","r"]}}}""")]
    public async Task A_schema_asking_for_a_huge_value_gets_a_bounded_sample(string schemaJson)
    {
        var schema = JsonNode.Parse(schemaJson)!.AsObject();
        var request = Request([User("Fill it")], responseFormat: new ResponseFormat("json_schema", "huge", schema));

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        Content(result.Completion.ToObject()).Length.ShouldBeLessThan(64 * 1024);
    }

    [Fact]
    public async Task Bounds_beyond_what_a_number_can_hold_are_ignored()
    {
        var schema = JsonNode.Parse("""
            {"type":"object","properties":{"big":{"type":"number","minimum":1e400},"small":{"type":"integer","maximum":-1e400}},"required":["big","small"]}
            """)!.AsObject();
        var request = Request([User("Numbers")], responseFormat: new ResponseFormat("json_schema", "numbers", schema));

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var document = JsonNode.Parse(Content(result.Completion.ToObject()))!.AsObject();
        double.IsFinite(document["big"]!.GetValue<double>()).ShouldBeTrue();
        document["small"]!.GetValueKind().ShouldBe(JsonValueKind.Number);
    }

    [Fact]
    public async Task Json_object_output_is_a_json_object()
    {
        var request = Request([User("Answer as \"JSON\" please")], responseFormat: new ResponseFormat("json_object"));

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        JsonNode.Parse(Content(result.Completion.ToObject())).ShouldBeOfType<JsonObject>()["answer"]!.GetValue<string>().ShouldContain("\"JSON\"");
    }

    [Fact]
    public async Task A_reply_longer_than_max_tokens_is_cut_with_finish_reason_length()
    {
        var request = Request([User("Please write a long story about a lighthouse keeper and the sea")], maxTokens: 5);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var content = Content(result.Completion.ToObject());
        TokenEstimator.Count(content).ShouldBe(5);
        result.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("length");
        result.Usage.CompletionTokens.ShouldBe(5);
    }

    [Fact]
    public async Task A_reply_in_a_non_latin_script_is_cut_at_max_tokens_as_the_estimator_counts_them()
    {
        var request = Request([User("東京の天気はどうですか。明日は雨が降りますか。週末は晴れますか。")], maxTokens: 20);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var content = Content(result.Completion.ToObject());
        content.ShouldContain("東京");
        TokenEstimator.Count(content).ShouldBe(20);
        result.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("length");
        result.Usage.CompletionTokens.ShouldBe(20);
    }

    [Fact]
    public async Task Text_stops_before_a_stop_sequence()
    {
        var request = Request([User("Tell me about the harbour in Hamburg")], stop: ["harbour", "zzz"]);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        Content(result.Completion.ToObject()).ShouldEndWith("Tell me about the ");
        result.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.Count(Content(result.Completion.ToObject())));
    }

    [Fact]
    public async Task N_asks_for_that_many_choices()
    {
        var request = Request([User("Give me options")], n: 3);

        var result = await simulator.CompleteAsync(Call(request, Model("sim-chat")), default);

        var choices = result.Completion.ToObject()["choices"]!.AsArray();
        choices.Select(c => c!["index"]!.GetValue<int>()).ShouldBe([0, 1, 2]);
        choices.Select(c => c!["message"]!["content"]!.GetValue<string>()).Distinct().Count().ShouldBe(3);
        result.Usage.CompletionTokens.ShouldBe(choices.Sum(c => TokenEstimator.Count(c!["message"]!["content"]!.GetValue<string>())));
    }

    [Fact]
    public async Task A_stream_is_many_chunks_that_add_up_to_the_non_streaming_reply()
    {
        var request = Request([User("Explain how tides work, in a few sentences")], stream: true);
        var call = Call(request, Model("sim-chat", slug: "infery/sim"));

        var items = await Collect(simulator.StreamAsync(call, default));
        var completion = await simulator.CompleteAsync(call, default);

        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()).ToList();
        chunks.Count.ShouldBeGreaterThan(8);
        chunks.ShouldAllBe(c => c["id"]!.GetValue<string>() == "chatcmpl-test123"
            && c["object"]!.GetValue<string>() == "chat.completion.chunk"
            && c["created"]!.GetValue<long>() == 1_767_225_600
            && c["model"]!.GetValue<string>() == "infery/sim"
            && c["system_fingerprint"]!.GetValue<string>() == "fp_infery_sim");
        var firstDelta = chunks[0]["choices"]![0]!["delta"]!;
        firstDelta["role"]!.GetValue<string>().ShouldBe("assistant");
        firstDelta["content"]!.GetValue<string>().ShouldBe("");
        var text = string.Concat(chunks.Select(c => c["choices"]![0]!["delta"]!["content"]?.GetValue<string>()));
        text.ShouldBe(Content(completion.Completion.ToObject()));
        chunks[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        chunks[..^1].ShouldAllBe(c => c["choices"]![0]!["finish_reason"] == null);

        items[^1].Chunk.ShouldBeNull();
        items[^1].Usage.ShouldBe(completion.Usage);
        items.Count(i => i.Usage is not null).ShouldBe(1);
    }

    [Fact]
    public async Task A_streamed_tool_call_opens_with_id_and_name_then_sends_argument_pieces()
    {
        var request = Request([User("Weather in Lisbon?")], stream: true, tools: [Tool("get_weather", WeatherSchema)]);
        var call = Call(request, Model("sim-chat"));

        var items = await Collect(simulator.StreamAsync(call, default));
        var completion = await simulator.CompleteAsync(call, default);

        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()["choices"]![0]!).ToList();
        var opening = chunks[0]["delta"]!["tool_calls"]![0]!;
        chunks[0]["delta"]!["role"]!.GetValue<string>().ShouldBe("assistant");
        opening["index"]!.GetValue<int>().ShouldBe(0);
        opening["id"]!.GetValue<string>().ShouldMatch("^call_[0-9a-f]{24}$");
        opening["type"]!.GetValue<string>().ShouldBe("function");
        opening["function"]!["name"]!.GetValue<string>().ShouldBe("get_weather");
        opening["function"]!["arguments"]!.GetValue<string>().ShouldBe("");
        var pieces = chunks.Skip(1).Select(c => c["delta"]!["tool_calls"]?[0]?["function"]?["arguments"]?.GetValue<string>()).OfType<string>().ToList();
        pieces.Count.ShouldBeGreaterThan(3);
        var arguments = string.Concat(pieces);
        arguments.ShouldBe(completion.Completion.ToObject()["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>());
        AssertMatchesWeatherSchema(JsonNode.Parse(arguments)!.AsObject());
        chunks[^1]["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        items[^1].Usage!.CompletionTokens.ShouldBe(TokenEstimator.Count(arguments));
    }

    [Fact]
    public async Task Sim_flaky_is_always_overloaded()
    {
        var call = Call(Request([User("hello")]), Model("sim-flaky"));

        var complete = await Should.ThrowAsync<ProviderException>(() => simulator.CompleteAsync(call, default));
        var stream = await Should.ThrowAsync<ProviderException>(() => Collect(simulator.StreamAsync(call, default)));

        complete.Failure.ShouldBe(ProviderFailure.Overloaded);
        complete.CanFallback.ShouldBeTrue();
        stream.Failure.ShouldBe(ProviderFailure.Overloaded);
    }

    [Fact]
    public async Task The_fail_hook_fails_before_anything_is_sent()
    {
        var call = Call(Request([User("hello [[sim:fail]]")], stream: true), Model("sim-chat"));
        var received = new List<ChatStreamItem>();

        var error = await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var item in simulator.StreamAsync(call, default))
                received.Add(item);
        });

        error.Failure.ShouldBe(ProviderFailure.Overloaded);
        received.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_fail_after_hook_breaks_the_stream_after_that_many_content_chunks()
    {
        var call = Call(Request([User("Tell me a long story [[sim:fail-after:3]] about ships")], stream: true), Model("sim-chat"));
        var received = new List<ChatStreamItem>();

        var error = await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var item in simulator.StreamAsync(call, default))
                received.Add(item);
        });

        error.Failure.ShouldBe(ProviderFailure.ServerError);
        received.Count(i => i.Chunk?.ToObject()["choices"]![0]!["delta"]!["content"]?.GetValue<string>() is { Length: > 0 }).ShouldBe(3);
        received.ShouldAllBe(i => i.Usage == null);
        (await Should.ThrowAsync<ProviderException>(() => simulator.CompleteAsync(call, default))).Failure.ShouldBe(ProviderFailure.ServerError);
    }

    [Fact]
    public async Task Hook_markers_are_not_echoed()
    {
        var call = Call(Request([User("Tell me a story [[sim:fail-after:999]]")], stream: true), Model("sim-chat"));
        var received = new List<ChatStreamItem>();

        await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var item in simulator.StreamAsync(call, default))
                received.Add(item);
        });

        var text = string.Concat(received.Select(i => i.Chunk?.ToObject()["choices"]![0]!["delta"]!["content"]?.GetValue<string>()));
        text.ShouldContain("Tell me a story");
        text.ShouldNotContain("[[sim:");
    }

    [Fact]
    public async Task Cancelling_stops_the_stream_between_chunks()
    {
        var call = Call(Request([User("Explain how tides work, in a few sentences")], stream: true), Model("sim-chat"));
        using var cancel = new CancellationTokenSource();
        var received = 0;

        await Should.ThrowAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in simulator.StreamAsync(call, cancel.Token))
            {
                if (++received == 2)
                    await cancel.CancelAsync();
            }
        });

        received.ShouldBe(2);
    }

    [Fact]
    public async Task An_unknown_simulator_model_is_a_bad_request()
    {
        var error = await Should.ThrowAsync<ProviderException>(() => simulator.CompleteAsync(Call(Request([User("hi")]), Model("sim-nope")), default));

        error.Failure.ShouldBe(ProviderFailure.BadRequest);
    }

    [Fact]
    public async Task The_official_openai_sdk_reads_bodies_and_chunks()
    {
        var call = Call(Request([User("Weather in Lisbon?")], stream: true, tools: [Tool("get_weather", WeatherSchema)]), Model("sim-chat"));

        var completion = ModelReaderWriter.Read<OpenAI.Chat.ChatCompletion>(
            BinaryData.FromString((await simulator.CompleteAsync(call, default)).Completion.ToObject().ToJsonString()))!;
        var updates = (await Collect(simulator.StreamAsync(call, default)))
            .Where(i => i.Chunk is not null)
            .Select(i => ModelReaderWriter.Read<OpenAI.Chat.StreamingChatCompletionUpdate>(BinaryData.FromString(i.Chunk!.Value.ToObject().ToJsonString()))!)
            .ToList();

        completion.FinishReason.ShouldBe(OpenAI.Chat.ChatFinishReason.ToolCalls);
        completion.ToolCalls.ShouldHaveSingleItem().FunctionName.ShouldBe("get_weather");
        completion.Usage.OutputTokenCount.ShouldBeGreaterThan(0);
        updates[0].ToolCallUpdates.ShouldHaveSingleItem().FunctionName.ShouldBe("get_weather");
        updates[^1].FinishReason.ShouldBe(OpenAI.Chat.ChatFinishReason.ToolCalls);
        string.Concat(updates.SelectMany(u => u.ToolCallUpdates).Select(t => t.FunctionArgumentsUpdate?.ToString()))
            .ShouldBe(completion.ToolCalls[0].FunctionArguments.ToString());
    }

    private static void AssertMatchesWeatherSchema(JsonObject arguments)
    {
        arguments.Select(p => p.Key).ShouldBeSubsetOf(["city", "days", "threshold", "metric", "unit", "tags", "when", "location"]);
        arguments["city"]!.GetValue<string>().Length.ShouldBeGreaterThanOrEqualTo(2);
        arguments["days"]!.GetValue<long>().ShouldBeInRange(3, 10);
        arguments["unit"]!.GetValue<string>().ShouldBeOneOf("celsius", "fahrenheit");
        arguments["location"]!["lat"]!.GetValueKind().ShouldBe(JsonValueKind.Number);
        arguments["location"]!["lon"]!.GetValueKind().ShouldBe(JsonValueKind.Number);
        if (arguments["threshold"] is { } threshold)
            threshold.GetValue<double>().ShouldBeGreaterThan(0);
        if (arguments["metric"] is { } metric)
            metric.GetValueKind().ShouldBeOneOf(JsonValueKind.True, JsonValueKind.False);
        if (arguments["tags"] is { } tags)
            tags.AsArray().Count.ShouldBeGreaterThanOrEqualTo(2);
        if (arguments["when"] is { } when)
            Regex.IsMatch(when.GetValue<string>(), @"^\d{4}-\d{2}-\d{2}$").ShouldBeTrue();
    }

    private static void AssertPerson(JsonNode person)
    {
        person["name"]!.GetValueKind().ShouldBe(JsonValueKind.String);
        person["age"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(18);
    }

    private static string Content(JsonObject completion) => completion["choices"]![0]!["message"]!["content"]!.GetValue<string>();

    private static async Task<List<ChatStreamItem>> Collect(IAsyncEnumerable<ChatStreamItem> stream)
    {
        var items = new List<ChatStreamItem>();
        await foreach (var item in stream)
            items.Add(item);
        return items;
    }
}
