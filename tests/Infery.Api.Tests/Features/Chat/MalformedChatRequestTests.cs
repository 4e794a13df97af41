using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>
/// Whatever a client sends to /v1/chat/completions, a bad request is a 4xx in OpenAI's envelope with all four
/// keys, naming the field at fault in <c>param</c>; never a 500, and never a charge.
/// </summary>
public sealed class MalformedChatRequestTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>, IAsyncLifetime
{
    private const string User = """{"role":"user","content":"hi"}""";

    private string key = null!;

    /// <summary>A valid sim-chat request with the given members added, e.g. <c>"temperature":3</c>.</summary>
    private static string SimChat(string members) => $"{{\"model\":\"sim-chat\",\"messages\":[{User}],{members}}}";

    public async Task InitializeAsync() => (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 10);

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A description, the raw body, and the param the error must name (null: the body as a whole).</summary>
    public static TheoryData<string, string, string?> BadBodies => new()
    {
        { "truncated JSON", """{"model":"sim-chat","messages":[""", null },
        { "not JSON at all", "model=sim-chat&messages=hi", null },
        { "empty body", "", null },
        { "an array body", $"[{User}]", null },
        { "a string body", "\"hello\"", null },
        { "a null body", "null", null },
        { "nesting deeper than allowed", string.Concat(Enumerable.Repeat("""{"a":""", 100)) + "1" + new string('}', 100), null },
        { "a repeated top-level property", $$"""{"model":"sim-chat","model":"sim-claude","messages":[{{User}}]}""", null },
        { "a repeated property in a message", """{"model":"sim-chat","messages":[{"role":"user","role":"system","content":"hi"}]}""", "messages[0]" },
        { "model missing", $$"""{"messages":[{{User}}]}""", "model" },
        { "model a number", $$"""{"model":4,"messages":[{{User}}]}""", "model" },
        { "model empty", $$"""{"model":" ","messages":[{{User}}]}""", "model" },
        { "messages missing", """{"model":"sim-chat"}""", "messages" },
        { "messages a string", """{"model":"sim-chat","messages":"hi"}""", "messages" },
        { "messages empty", """{"model":"sim-chat","messages":[]}""", "messages" },
        { "a message that is a string", """{"model":"sim-chat","messages":["hi"]}""", "messages[0]" },
        { "a message without role", """{"model":"sim-chat","messages":[{"content":"hi"}]}""", "messages[0].role" },
        { "an unknown role", """{"model":"sim-chat","messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role" },
        { "the deprecated function role", """{"model":"sim-chat","messages":[{"role":"function","name":"f","content":"hi"}]}""", "messages[0].role" },
        { "a role that is a number", """{"model":"sim-chat","messages":[{"role":1,"content":"hi"}]}""", "messages[0].role" },
        { "content a number", """{"model":"sim-chat","messages":[{"role":"user","content":42}]}""", "messages[0].content" },
        { "content missing", """{"model":"sim-chat","messages":[{"role":"user"}]}""", "messages[0].content" },
        { "content an empty array", """{"model":"sim-chat","messages":[{"role":"user","content":[]}]}""", "messages[0].content" },
        { "an unknown content part type", """{"model":"sim-chat","messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}""", "messages[0].content[0].type" },
        { "a content part without type", """{"model":"sim-chat","messages":[{"role":"user","content":[{"text":"hi"}]}]}""", "messages[0].content[0].type" },
        { "an image in a system message", """{"model":"sim-chat","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}""", "messages[0].content[0].type" },
        { "an image url that is no URL", """{"model":"sim-chat","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"not a url"}}]}]}""", "messages[0].content[0].image_url.url" },
        { "audio that is not base64", """{"model":"sim-chat","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"%%%","format":"wav"}}]}]}""", "messages[0].content[0].input_audio.data" },
        { "an unknown audio format", """{"model":"sim-chat","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"ogg"}}]}]}""", "messages[0].content[0].input_audio.format" },
        { "a tool message without tool_call_id", """{"model":"sim-chat","messages":[{"role":"tool","content":"18C"}]}""", "messages[0].tool_call_id" },
        { "tool_calls on a user message", """{"model":"sim-chat","messages":[{"role":"user","content":"hi","tool_calls":[]}]}""", "messages[0].tool_calls" },
        { "temperature a string", SimChat(""" "temperature":"hot" """), "temperature" },
        { "temperature out of range", SimChat(""" "temperature":2.5 """), "temperature" },
        { "top_p out of range", SimChat(""" "top_p":1.5 """), "top_p" },
        { "presence_penalty out of range", SimChat(""" "presence_penalty":-3 """), "presence_penalty" },
        { "max_tokens zero", SimChat(""" "max_tokens":0 """), "max_tokens" },
        { "max_tokens a fraction", SimChat(""" "max_tokens":1.5 """), "max_tokens" },
        { "n zero", SimChat(""" "n":0 """), "n" },
        { "seed a string", SimChat(""" "seed":"abc" """), "seed" },
        { "stream a string", SimChat(""" "stream":"yes" """), "stream" },
        { "stream_options without stream", SimChat(""" "stream_options":{"include_usage":true} """), "stream_options" },
        { "five stop sequences", SimChat(""" "stop":["a","b","c","d","e"] """), "stop" },
        { "a stop sequence that is a number", SimChat(""" "stop":[1] """), "stop[0]" },
        { "tools an object", SimChat(""" "tools":{"type":"function"} """), "tools" },
        { "a tool of unknown type", SimChat(""" "tools":[{"type":"retrieval"}] """), "tools[0].type" },
        { "a tool function without name", SimChat(""" "tools":[{"type":"function","function":{"parameters":{}}}] """), "tools[0].function.name" },
        { "a response_format of unknown type", SimChat(""" "response_format":{"type":"xml"} """), "response_format.type" },
        { "a json_schema format without its schema object", SimChat(""" "response_format":{"type":"json_schema"} """), "response_format.json_schema" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_a_400_naming_the_field(string description, string body, string? param)
    {
        var response = await SendAsync(new StringContent(body, Encoding.UTF8, "application/json"));

        var error = await ErrorOf(response, description);
        ((int)response.StatusCode).ShouldBe(400, description);
        error["type"]!.GetValue<string>().ShouldBe("invalid_request_error", description);
        (error["param"]?.GetValue<string>()).ShouldBe(param, description);
    }

    [Fact]
    public async Task A_tool_choice_naming_no_declared_tool_names_tool_choice()
    {
        var response = await SendAsync(new StringContent(SimChat("""
            "tools":[{"type":"function","function":{"name":"get_weather"}}],
            "tool_choice":{"type":"function","function":{"name":"get_time"}}
            """), Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorOf(response, "tool_choice"))["param"]!.GetValue<string>().ShouldStartWith("tool_choice");
    }

    [Fact]
    public async Task A_body_over_32_MiB_is_413_whether_its_length_is_declared_or_not()
    {
        var oversize = new byte[32 * 1024 * 1024 + 1];
        oversize.AsSpan().Fill((byte)' ');

        var declared = await SendAsync(new ByteArrayContent(oversize) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });
        var chunked = await SendAsync(new UndeclaredLengthContent(oversize));

        foreach (var response in new[] { declared, chunked })
        {
            response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
            (await ErrorOf(response, "oversize"))["code"]!.GetValue<string>().ShouldBe("request_too_large");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpContent content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await gateway.CreateClient().SendAsync(request);
    }

    private static async Task<JsonObject> ErrorOf(HttpResponseMessage response, string description)
    {
        ((int)response.StatusCode).ShouldBeInRange(400, 499, description);
        response.Headers.Contains("x-credits-used").ShouldBeFalse(description);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.AsObject();
        error.Select(p => p.Key).ShouldBe(["message", "type", "param", "code"], description);
        error["message"]!.GetValue<string>().ShouldNotBeNullOrWhiteSpace(description);
        return error;
    }

    /// <summary>A body sent chunked, so the server learns its size only by reading it.</summary>
    private sealed class UndeclaredLengthContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
