using System.ClientModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>The official OpenAI .NET SDK, unchanged but for endpoint and key, against every kind of provider.</summary>
public sealed class ChatCompletionsSdkTests(ChatGateway gateway) : IClassFixture<ChatGateway>, IAsyncLifetime
{
    private string key = null!;

    public async Task InitializeAsync()
    {
        gateway.ResetFakes();
        (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private ChatClient Chat(string model) => gateway.Sdk(key).GetChatClient(model);

    [Fact]
    public async Task Models_list_names_every_served_model()
    {
        var models = (await gateway.Sdk(key).GetOpenAIModelClient().GetModelsAsync()).Value;

        models.Select(m => m.Id).ShouldBe(["sim-chat", "sim-claude", "sim-flaky", "fake-openai", "fake-claude", "fake-gemini"], ignoreOrder: true);
    }

    [Fact]
    public async Task A_completion_has_text_usage_the_served_model_and_cost_headers()
    {
        var result = await Chat("sim-chat").CompleteChatAsync([new UserChatMessage("Hello there, gateway.")]);

        var completion = result.Value;
        completion.Model.ShouldBe("sim-chat");
        completion.Id.ShouldStartWith("chatcmpl-");
        completion.FinishReason.ShouldBe(ChatFinishReason.Stop);
        completion.Content.Single().Text.ShouldContain("You wrote 3 words");
        completion.Usage.OutputTokenCount.ShouldBeGreaterThan(0);
        completion.Usage.InputTokenCount.ShouldBeGreaterThan(0);
        var headers = result.GetRawResponse().Headers;
        headers.TryGetValue("x-model-used", out var modelUsed).ShouldBeTrue();
        modelUsed.ShouldBe("sim-chat");
        headers.TryGetValue("x-credits-used", out var credits).ShouldBeTrue();
        ChatHttp.MicroCreditsOf(credits!).ShouldBeGreaterThan(0);
    }

    [Theory]
    [InlineData("sim-chat")]
    [InlineData("fake-openai")]
    [InlineData("fake-claude")]
    [InlineData("fake-gemini")]
    public async Task A_stream_ends_normally_despite_the_credits_chunk_and_matches_the_whole_reply(string model)
    {
        var messages = new ChatMessage[] { new UserChatMessage("Tell me something short.") };
        var whole = (await Chat(model).CompleteChatAsync(messages)).Value;

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var updates = 0;
        await foreach (var update in Chat(model).CompleteChatStreamingAsync(messages))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
                text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        updates.ShouldBeGreaterThan(2);
        text.ToString().ShouldBe(whole.Content.Single().Text);
        finish.ShouldBe(ChatFinishReason.Stop);
        usage.ShouldNotBeNull("the SDK asks for usage on streams and must receive it");
        usage.OutputTokenCount.ShouldBe(whole.Usage.OutputTokenCount);
        usage.InputTokenCount.ShouldBe(whole.Usage.InputTokenCount);
    }

    [Fact]
    public async Task A_tool_call_comes_back_whole()
    {
        var options = new ChatCompletionOptions { Tools = { WeatherTool() }, ToolChoice = ChatToolChoice.CreateAutoChoice() };

        var completion = (await Chat("sim-chat").CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options)).Value;

        completion.FinishReason.ShouldBe(ChatFinishReason.ToolCalls);
        var call = completion.ToolCalls.Single();
        call.FunctionName.ShouldBe("get_weather");
        call.Id.ShouldNotBeNullOrEmpty();
        JsonNode.Parse(call.FunctionArguments.ToString())!["city"]!.GetValue<string>().ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task A_streamed_tool_call_assembles_into_the_same_call()
    {
        var options = new ChatCompletionOptions { Tools = { WeatherTool() } };
        var messages = new ChatMessage[] { new UserChatMessage("Weather in Paris?") };
        var whole = (await Chat("sim-chat").CompleteChatAsync(messages, options)).Value.ToolCalls.Single();

        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Chat("sim-chat").CompleteChatStreamingAsync(messages, options))
        {
            foreach (var piece in update.ToolCallUpdates)
            {
                piece.Index.ShouldBe(0);
                id ??= piece.ToolCallId;
                name ??= piece.FunctionName;
                if (piece.FunctionArgumentsUpdate is { } args && !args.ToMemory().IsEmpty)
                    arguments.Append(args.ToString());
            }
            finish ??= update.FinishReason;
        }

        finish.ShouldBe(ChatFinishReason.ToolCalls);
        id.ShouldBe(whole.Id);
        name.ShouldBe("get_weather");
        arguments.ToString().ShouldBe(whole.FunctionArguments.ToString());
    }

    [Fact]
    public async Task The_tool_result_turn_is_answered_in_text()
    {
        var call = ChatToolCall.CreateFunctionToolCall("call_1", "get_weather", BinaryData.FromString("""{"city":"Paris"}"""));
        ChatMessage[] messages =
        [
            new UserChatMessage("Weather in Paris?"),
            new AssistantChatMessage([call]),
            new ToolChatMessage("call_1", "18C and sunny"),
        ];

        var completion = (await Chat("sim-chat").CompleteChatAsync(messages, new ChatCompletionOptions { Tools = { WeatherTool() } })).Value;

        completion.FinishReason.ShouldBe(ChatFinishReason.Stop);
        completion.Content.Single().Text.ShouldContain("The tool get_weather returned \"18C and sunny\"");
    }

    [Fact]
    public async Task Json_mode_gives_a_json_object()
    {
        var options = new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };

        var completion = (await Chat("sim-chat").CompleteChatAsync([new UserChatMessage("Reply in JSON.")], options)).Value;

        JsonNode.Parse(completion.Content.Single().Text).ShouldBeOfType<JsonObject>();
    }

    [Fact]
    public async Task A_json_schema_is_followed()
    {
        var schema = BinaryData.FromString("""
            {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
             "required":["name","age","tags"],"additionalProperties":false}
            """);
        var options = new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", schema, jsonSchemaIsStrict: true) };

        var completion = (await Chat("sim-chat").CompleteChatAsync([new UserChatMessage("Describe Ada.")], options)).Value;

        var person = JsonNode.Parse(completion.Content.Single().Text)!.AsObject();
        person["name"]!.GetValueKind().ShouldBe(JsonValueKind.String);
        person["age"]!.GetValueKind().ShouldBe(JsonValueKind.Number);
        person["tags"].ShouldBeOfType<JsonArray>();
    }

    [Fact]
    public async Task An_image_is_accepted_by_a_vision_model()
    {
        var png = BinaryData.FromBytes(Convert.FromBase64String(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="));
        var message = new UserChatMessage(
            ChatMessageContentPart.CreateTextPart("What is in this picture?"),
            ChatMessageContentPart.CreateImagePart(png, "image/png"),
            ChatMessageContentPart.CreateImagePart(new Uri("https://example.com/cat.jpg"), ChatImageDetailLevel.Low));

        var completion = (await Chat("sim-chat").CompleteChatAsync([message])).Value;

        completion.Content.Single().Text.ShouldContain("It came with 2 images.");
    }

    // ---- errors, as the SDK's typed exceptions ----

    [Fact]
    public async Task An_unknown_model_is_404_model_not_found()
    {
        var error = await Should.ThrowAsync<ClientResultException>(() => Chat("no-such-model").CompleteChatAsync([new UserChatMessage("hi")]));

        error.Status.ShouldBe(404);
        ErrorOf(error).ShouldBe(("invalid_request_error", "model_not_found", "model"));
    }

    [Fact]
    public async Task A_wrong_key_is_401_invalid_api_key()
    {
        var client = gateway.Sdk("inf_not_a_real_key_0000000000000000").GetChatClient("sim-chat");

        var error = await Should.ThrowAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        error.Status.ShouldBe(401);
        ErrorOf(error).Code.ShouldBe("invalid_api_key");
    }

    [Fact]
    public async Task A_workspace_without_credits_is_402_insufficient_credits()
    {
        var (_, brokeKey) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);

        var error = await Should.ThrowAsync<ClientResultException>(() =>
            gateway.Sdk(brokeKey).GetChatClient("sim-chat").CompleteChatAsync([new UserChatMessage("hi")]));

        error.Status.ShouldBe(402);
        ErrorOf(error).Code.ShouldBe("insufficient_credits");
    }

    [Fact]
    public async Task An_out_of_range_parameter_is_400_with_its_param()
    {
        var error = await Should.ThrowAsync<ClientResultException>(() =>
            Chat("sim-chat").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { Temperature = 3.5f }));

        error.Status.ShouldBe(400);
        var (type, _, param) = ErrorOf(error);
        type.ShouldBe("invalid_request_error");
        param.ShouldBe("temperature");
    }

    [Fact]
    public async Task Audio_to_a_model_without_audio_input_is_400_audio_not_supported_by_model()
    {
#pragma warning disable OPENAI001 // the SDK marks audio input as experimental
        var message = new UserChatMessage(
            ChatMessageContentPart.CreateTextPart("Transcribe this."),
            ChatMessageContentPart.CreateInputAudioPart(BinaryData.FromBytes(new byte[64]), ChatInputAudioFormat.Wav));
#pragma warning restore OPENAI001

        var error = await Should.ThrowAsync<ClientResultException>(() => Chat("sim-claude").CompleteChatAsync([message]));

        error.Status.ShouldBe(400);
        ErrorOf(error).ShouldBe(("invalid_request_error", "audio_not_supported_by_model", "messages[0].content[1]"));
    }

    [Fact]
    public async Task An_overloaded_upstream_is_503_upstream_overloaded_streamed_or_not()
    {
        var whole = await Should.ThrowAsync<ClientResultException>(() => Chat("sim-flaky").CompleteChatAsync([new UserChatMessage("hi")]));
        var streamed = await Should.ThrowAsync<ClientResultException>(async () =>
        {
            await foreach (var _ in Chat("sim-flaky").CompleteChatStreamingAsync([new UserChatMessage("hi")]))
            {
            }
        });

        whole.Status.ShouldBe(503);
        ErrorOf(whole).Code.ShouldBe("upstream_overloaded");
        streamed.Status.ShouldBe(503);
        ErrorOf(streamed).Code.ShouldBe("upstream_overloaded");
    }

    private static ChatTool WeatherTool() => ChatTool.CreateFunctionTool("get_weather", "Current weather for a city",
        BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));

    private static (string Type, string? Code, string? Param) ErrorOf(ClientResultException exception)
    {
        var error = JsonNode.Parse(exception.GetRawResponse()!.Content.ToString())!["error"]!.AsObject();
        error.Select(p => p.Key).ShouldBe(["message", "type", "param", "code"]);
        return (error["type"]!.GetValue<string>(), error["code"]?.GetValue<string>(), error["param"]?.GetValue<string>());
    }
}
