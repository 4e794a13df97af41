using System.Net;
using System.Text.Json.Nodes;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>POST /v1/completions end to end: text_completion shapes, whole and streamed, billed like chat.</summary>
public sealed class LegacyCompletionsApiTests(ChatGateway gateway) : IClassFixture<ChatGateway>, IAsyncLifetime
{
    private string key = null!;

    public async Task InitializeAsync() => (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 10);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_completion_is_a_text_completion_with_its_cost_in_the_ledger()
    {
        var requestId = ChatHttp.NewRequestId();

        var response = await PostAsync("""{"model":"sim-chat","prompt":"Once upon a time","max_tokens":64}""", requestId);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        body["object"]!.GetValue<string>().ShouldBe("text_completion");
        body["id"]!.GetValue<string>().ShouldStartWith("cmpl-");
        body["model"]!.GetValue<string>().ShouldBe("sim-chat");
        var choice = body["choices"]!.AsArray().Single()!;
        choice["text"]!.GetValue<string>().ShouldContain("You wrote 4 words");
        choice["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        choice.AsObject().ContainsKey("message").ShouldBeFalse();
        body["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBeGreaterThan(0);
        var creditsUsed = ChatHttp.MicroCreditsOf(ChatHttp.Header(response, "x-credits-used"));
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
        (await gateway.EventsAsync("request.served.v1", requestId)).Single()["endpoint"]!.GetValue<string>().ShouldBe("completions");
    }

    [Fact]
    public async Task Without_max_tokens_the_legacy_default_of_16_applies()
    {
        var response = await PostAsync("""{"model":"sim-chat","prompt":"Tell me a long story about the sea and the sky"}""");

        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("length");
        body["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBeLessThanOrEqualTo(16);
    }

    [Fact]
    public async Task A_stream_is_text_completion_chunks_then_credits_then_done()
    {
        var whole = JsonNode.Parse(await (await PostAsync("""{"model":"sim-chat","prompt":["Once upon a time"],"max_tokens":64}"""))
            .Content.ReadAsStringAsync())!;
        var requestId = ChatHttp.NewRequestId();

        var response = await PostAsync(
            """{"model":"sim-chat","prompt":["Once upon a time"],"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}""", requestId);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var (chunks, done) = ChatHttp.ReadSse(await response.Content.ReadAsStringAsync());
        done.ShouldBeTrue();
        chunks.ShouldAllBe(c => c["object"]!.GetValue<string>() == "text_completion" && c["id"]!.GetValue<string>().StartsWith("cmpl-"));
        chunks.SelectMany(c => c["choices"]!.AsArray()).ShouldAllBe(choice => choice!["text"] != null && choice["delta"] == null);
        ChatHttp.Text(chunks).ShouldBe(whole["choices"]![0]!["text"]!.GetValue<string>());
        chunks[^1]["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBe(whole["usage"]!["completion_tokens"]!.GetValue<int>());
        chunks[^1]["choices"]!.AsArray().ShouldBeEmpty();
        var creditsUsed = ChatHttp.CreditsUsed(chunks);
        creditsUsed.ShouldBeGreaterThan(0);
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
    }

    [Fact]
    public async Task An_openai_compatible_upstreams_reply_becomes_a_text_completion_whole_and_streamed()
    {
        var whole = await PostAsync("""{"model":"fake-openai","prompt":"Say hello","max_tokens":4096}""");

        whole.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonNode.Parse(await whole.Content.ReadAsStringAsync())!.AsObject();
        body["object"]!.GetValue<string>().ShouldBe("text_completion");
        body["id"]!.GetValue<string>().ShouldStartWith("cmpl-");
        body["model"]!.GetValue<string>().ShouldBe("fake-openai");
        body["choices"]![0]!["text"]!.GetValue<string>().ShouldBe(ProviderWire.ReplyText);
        body["usage"]!["prompt_tokens"]!.GetValue<int>().ShouldBe(1000);

        var requestId = ChatHttp.NewRequestId();
        var streamed = await PostAsync("""{"model":"fake-openai","prompt":"Say hello","max_tokens":4096,"stream":true}""", requestId);

        streamed.StatusCode.ShouldBe(HttpStatusCode.OK);
        var (chunks, done) = ChatHttp.ReadSse(await streamed.Content.ReadAsStringAsync());
        done.ShouldBeTrue();
        chunks.ShouldAllBe(c => c["object"]!.GetValue<string>() == "text_completion" && c["id"]!.GetValue<string>().StartsWith("cmpl-"));
        ChatHttp.Text(chunks).ShouldBe(ProviderWire.ReplyText);
        var creditsUsed = ChatHttp.CreditsUsed(chunks);
        creditsUsed.ShouldBe(ProviderWire.OpenAiCost);
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
    }

    [Theory]
    [InlineData("""{"model":"sim-chat"}""", "prompt")]
    [InlineData("""{"model":"sim-chat","prompt":[1,2,3]}""", "prompt")]
    [InlineData("""{"model":"sim-chat","prompt":"hi","suffix":"end"}""", "suffix")]
    [InlineData("""{"model":"sim-chat","prompt":"hi","echo":true}""", "echo")]
    [InlineData("""{"prompt":"hi"}""", "model")]
    public async Task A_bad_legacy_request_is_a_400_naming_the_field(string body, string param)
    {
        var response = await PostAsync(body);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.AsObject();
        error.Select(p => p.Key).ShouldBe(["message", "type", "param", "code"]);
        error["param"]!.GetValue<string>().ShouldBe(param);
    }

    private Task<HttpResponseMessage> PostAsync(string json, string? requestId = null) =>
        gateway.CreateClient().SendAsync(ChatHttp.Post("/v1/completions", key, json, requestId));
}
