using System.Text.Json.Nodes;
using Infery.Api.Chat;

namespace Infery.Api.Tests.Chat;

public class ChatRequestParserTests
{
    private const string User = """{"role":"user","content":"hi"}""";
    private const string WeatherTool = """{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}""";
    private const string Png = "data:image/png;base64,iVBORw0KGgo=";

    /// <summary>A valid request with one user message plus <paramref name="fields"/>.</summary>
    private static string With(string fields) => $$$"""{"model":"sim-chat","messages":[{{{User}}}],{{{fields}}}}""";

    /// <summary>A valid request whose messages are <paramref name="messages"/>.</summary>
    private static string Messages(string messages) => $$$"""{"model":"sim-chat","messages":[{{{messages}}}]}""";

    private static string UserParts(string parts) => Messages($$$"""{"role":"user","content":[{{{parts}}}]}""");

    public static TheoryData<string, string> MalformedRequests => new()
    {
        // model
        { """{"messages":[{"role":"user","content":"hi"}]}""", "model" },
        { """{"model":"","messages":[{"role":"user","content":"hi"}]}""", "model" },
        { """{"model":42,"messages":[{"role":"user","content":"hi"}]}""", "model" },
        { """{"model":null,"messages":[{"role":"user","content":"hi"}]}""", "model" },
        { """{"model":["sim-chat"],"messages":[{"role":"user","content":"hi"}]}""", "model" },
        // messages
        { """{"model":"sim-chat"}""", "messages" },
        { """{"model":"sim-chat","messages":[]}""", "messages" },
        { """{"model":"sim-chat","messages":"hi"}""", "messages" },
        { """{"model":"sim-chat","messages":{"role":"user"}}""", "messages" },
        { Messages("42"), "messages[0]" },
        { Messages("null"), "messages[0]" },
        { Messages("""{"content":"hi"}"""), "messages[0].role" },
        { Messages("""{"role":"function","name":"f","content":"x"}"""), "messages[0].role" },
        { Messages("""{"role":"robot","content":"hi"}"""), "messages[0].role" },
        { Messages("""{"role":7,"content":"hi"}"""), "messages[0].role" },
        { Messages("""{"role":"user"}"""), "messages[0].content" },
        { Messages("""{"role":"user","content":null}"""), "messages[0].content" },
        { Messages("""{"role":"system"}"""), "messages[0].content" },
        { Messages("""{"role":"user","content":42}"""), "messages[0].content" },
        { Messages("""{"role":"user","content":{"type":"text","text":"hi"}}"""), "messages[0].content" },
        { Messages("""{"role":"user","content":[]}"""), "messages[0].content" },
        { Messages("""{"role":"user","content":"hi","name":5}"""), "messages[0].name" },
        // content parts
        { UserParts("\"hi\""), "messages[0].content[0]" },
        { UserParts("""{"text":"hi"}"""), "messages[0].content[0].type" },
        { UserParts("""{"type":"video","video":{}}"""), "messages[0].content[0].type" },
        { UserParts("""{"type":null,"text":"hi"}"""), "messages[0].content[0].type" },
        { UserParts("""{"type":"text"}"""), "messages[0].content[0].text" },
        { UserParts("""{"type":"text","text":5}"""), "messages[0].content[0].text" },
        { UserParts("""{"type":"text","text":"a"},{"type":"refusal","refusal":"no"}"""), "messages[0].content[1].type" },
        { UserParts("""{"type":"image_url"}"""), "messages[0].content[0].image_url" },
        { UserParts("""{"type":"image_url","image_url":"https://example.com/a.png"}"""), "messages[0].content[0].image_url" },
        { UserParts("""{"type":"image_url","image_url":{}}"""), "messages[0].content[0].image_url.url" },
        { UserParts("""{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}"""), "messages[0].content[0].image_url.url" },
        { UserParts("""{"type":"image_url","image_url":{"url":"a.png"}}"""), "messages[0].content[0].image_url.url" },
        { UserParts("""{"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}}"""), "messages[0].content[0].image_url.url" },
        { UserParts("""{"type":"image_url","image_url":{"url":"data:image/png;base64,***"}}"""), "messages[0].content[0].image_url.url" },
        { UserParts("""{"type":"image_url","image_url":{"url":"data:text/plain;base64,aGk="}}"""), "messages[0].content[0].image_url.url" },
        { UserParts($$$"""{"type":"image_url","image_url":{"url":"{{{Png}}}","detail":"ultra"}}"""), "messages[0].content[0].image_url.detail" },
        { UserParts("""{"type":"input_audio","input_audio":{"format":"wav"}}"""), "messages[0].content[0].input_audio.data" },
        { UserParts("""{"type":"input_audio","input_audio":{"data":"not base64!","format":"wav"}}"""), "messages[0].content[0].input_audio.data" },
        { UserParts("""{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"flac"}}"""), "messages[0].content[0].input_audio.format" },
        { UserParts("""{"type":"input_audio","input_audio":{"data":"UklGRg=="}}"""), "messages[0].content[0].input_audio.format" },
        { UserParts("""{"type":"file","file":{"filename":"a.pdf"}}"""), "messages[0].content[0].file" },
        { UserParts("""{"type":"file","file":{"file_data":"JVBERi0=","filename":"a.pdf"}}"""), "messages[0].content[0].file.file_data" },
        { UserParts("""{"type":"file","file":{"file_id":""}}"""), "messages[0].content[0].file.file_id" },
        { UserParts("""{"type":"file","file":{"file_id":"file-1","file_data":"data:application/pdf;base64,JVBERi0="}}"""), "messages[0].content[0].file" },
        { UserParts("""{"type":"file","file":{"file_id":"file-1","filename":7}}"""), "messages[0].content[0].file.filename" },
        // role-specific content
        { Messages($$$"""{{{User}}},{"role":"assistant","content":"ok"},{"role":"system","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"{{{Png}}}"}}]}"""), "messages[2].content[1].type" },
        { Messages($$$"""{"role":"developer","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}"""), "messages[0].content[0].type" },
        { Messages($$$"""{{{User}}},{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"{{{Png}}}"}}]}"""), "messages[1].content[0].type" },
        { Messages($$$"""{{{User}}},{"role":"tool","tool_call_id":"c1","content":[{"type":"file","file":{"file_id":"f"}}]}"""), "messages[1].content[0].type" },
        { Messages($$$"""{{{User}}},{"role":"tool","content":"18C"}"""), "messages[1].tool_call_id" },
        { Messages($$$"""{{{User}}},{"role":"tool","tool_call_id":5,"content":"18C"}"""), "messages[1].tool_call_id" },
        { Messages($$$"""{{{User}}},{"role":"assistant","content":null}"""), "messages[1].content" },
        { Messages($$$"""{{{User}}},{"role":"assistant"}"""), "messages[1].content" },
        // tool calls on messages
        { Messages($$$"""{{{User}}},{"role":"assistant","content":null,"tool_calls":[]}"""), "messages[1].tool_calls" },
        { Messages($$$"""{{{User}}},{"role":"assistant","tool_calls":{"id":"c1"}}"""), "messages[1].tool_calls" },
        { Messages($$$"""{{{User}}},{"role":"assistant","tool_calls":["c1"]}"""), "messages[1].tool_calls[0]" },
        { Messages($$$"""{{{User}}},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}"""), "messages[1].tool_calls[0].id" },
        { Messages($$$"""{{{User}}},{"role":"assistant","tool_calls":[{"id":"c1","type":"custom","function":{"name":"f","arguments":"{}"}}]}"""), "messages[1].tool_calls[0].type" },
        { Messages($$$"""{{{User}}},{"role":"assistant","tool_calls":[{"id":"c1","type":"function"}]}"""), "messages[1].tool_calls[0].function" },
        { Messages($$$"""{{{User}}},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"arguments":"{}"}}]}"""), "messages[1].tool_calls[0].function.name" },
        { Messages(User + """,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"city":"Paris"}}}]}"""), "messages[1].tool_calls[0].function.arguments" },
        { Messages("""{"role":"user","content":"hi","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}"""), "messages[0].tool_calls" },
        // tools and tool_choice
        { With("""  "tools":{"type":"function"}"""), "tools" },
        { With("""  "tools":[null]"""), "tools[0]" },
        { With("""  "tools":[{"type":"retrieval"}]"""), "tools[0].type" },
        { With("""  "tools":[{"function":{"name":"f"}}]"""), "tools[0].type" },
        { With("""  "tools":[{"type":"function"}]"""), "tools[0].function" },
        { With("""  "tools":[{"type":"function","function":{"description":"d"}}]"""), "tools[0].function.name" },
        { With("""  "tools":[{"type":"function","function":{"name":"get weather"}}]"""), "tools[0].function.name" },
        { With($$$"""  "tools":[{"type":"function","function":{"name":"{{{new string('a', 65)}}}"}}]"""), "tools[0].function.name" },
        { With("""  "tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]"""), "tools[0].function.parameters" },
        { With("""  "tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]"""), "tools[0].function.strict" },
        { With("""  "tools":[{"type":"function","function":{"name":"f","description":["d"]}}]"""), "tools[0].function.description" },
        { With($$$"""  "tools":[{{{WeatherTool}}},{{{WeatherTool}}}]"""), "tools[1].function.name" },
        { With($$$"""  "tools":[{{{WeatherTool}}}],"tool_choice":"always" """), "tool_choice" },
        { With($$$"""  "tools":[{{{WeatherTool}}}],"tool_choice":1"""), "tool_choice" },
        { With("""  "tool_choice":"required" """), "tool_choice" },
        { With("""  "tool_choice":{"type":"function","function":{"name":"get_weather"}}"""), "tool_choice" },
        { With($$$"""  "tools":[{{{WeatherTool}}}],"tool_choice":{"type":"function","function":{"name":"get_time"}}"""), "tool_choice.function.name" },
        { With($$$"""  "tools":[{{{WeatherTool}}}],"tool_choice":{"type":"function"}"""), "tool_choice.function" },
        { With($$$"""  "tools":[{{{WeatherTool}}}],"tool_choice":{"type":"allowed_tools"}"""), "tool_choice.type" },
        { With("""  "parallel_tool_calls":"yes" """), "parallel_tool_calls" },
        // response_format
        { With("""  "response_format":"json" """), "response_format" },
        { With("""  "response_format":{}"""), "response_format.type" },
        { With("""  "response_format":{"type":"xml"}"""), "response_format.type" },
        { With("""  "response_format":{"type":"json_schema"}"""), "response_format.json_schema" },
        { With("""  "response_format":{"type":"json_schema","json_schema":{"schema":{}}}"""), "response_format.json_schema.name" },
        { With("""  "response_format":{"type":"json_schema","json_schema":{"name":"my schema"}}"""), "response_format.json_schema.name" },
        { With("""  "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":[]}}"""), "response_format.json_schema.schema" },
        { With("""  "response_format":{"type":"json_schema","json_schema":{"name":"s","strict":"true"}}"""), "response_format.json_schema.strict" },
        // sampling and limits
        { With("""  "temperature":2.5"""), "temperature" },
        { With("""  "temperature":-0.1"""), "temperature" },
        { With("""  "temperature":"0.5" """), "temperature" },
        { With("""  "temperature":1e400"""), "temperature" },
        { With("""  "top_p":1.01"""), "top_p" },
        { With("""  "top_p":true"""), "top_p" },
        { With("""  "presence_penalty":3"""), "presence_penalty" },
        { With("""  "frequency_penalty":-2.01"""), "frequency_penalty" },
        { With("""  "top_k":0"""), "top_k" },
        { With("""  "top_k":1.5"""), "top_k" },
        { With("""  "top_k":3000000000"""), "top_k" },
        { With("""  "max_tokens":0"""), "max_tokens" },
        { With("""  "max_tokens":-5"""), "max_tokens" },
        { With("""  "max_tokens":"100" """), "max_tokens" },
        { With("""  "max_tokens":100.5"""), "max_tokens" },
        { With("""  "max_completion_tokens":1000000000000"""), "max_completion_tokens" },
        { With("""  "max_completion_tokens":100,"max_tokens":0"""), "max_tokens" },
        { With("""  "n":0"""), "n" },
        { With("""  "n":129"""), "n" },
        { With("""  "stop":["a","b","c","d","e"]"""), "stop" },
        { With("""  "stop":[]"""), "stop" },
        { With("""  "stop":["a",1]"""), "stop[1]" },
        { With("""  "stop":5"""), "stop" },
        { With("""  "seed":1.5"""), "seed" },
        { With("""  "seed":1e30"""), "seed" },
        { With("""  "seed":"42" """), "seed" },
        { With("""  "stream":"true" """), "stream" },
        { With("""  "stream":1"""), "stream" },
        { With("""  "stream_options":{"include_usage":true}"""), "stream_options" },
        { With("""  "stream":false,"stream_options":{"include_usage":true}"""), "stream_options" },
        { With("""  "stream":true,"stream_options":true"""), "stream_options" },
        { With("""  "stream":true,"stream_options":{"include_usage":"yes"}"""), "stream_options.include_usage" },
        { With("""  "user":123"""), "user" },
        // repeated property names
        { """{"model":"sim-chat","messages":[{"role":"user","role":"system","content":"hi"}]}""", "messages[0]" },
        { With("""  "tools":[{"type":"function","function":{"name":"f","parameters":{"a":1,"a":2}}}]"""), "tools[0].function.parameters" },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public void A_malformed_request_is_a_400_naming_the_bad_field(string json, string param)
    {
        var result = ChatRequestParser.Parse(JsonNode.Parse(json));

        result.IsValid.ShouldBeFalse();
        result.Error.Status.ShouldBe(400);
        result.Error.Type.ShouldBe("invalid_request_error");
        result.Error.Param.ShouldBe(param);
        result.Error.Message.ShouldNotBeNullOrWhiteSpace();
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("\"hello\"")]
    [InlineData("42")]
    [InlineData("""{"model":"a","model":"b","messages":[{"role":"user","content":"hi"}]}""")]
    public void A_body_that_is_not_one_json_object_is_a_400_without_a_param(string json)
    {
        var result = ChatRequestParser.Parse(JsonNode.Parse(json));

        result.Error.ShouldNotBeNull().Status.ShouldBe(400);
        result.Error.Param.ShouldBeNull();
    }

    [Fact]
    public void A_minimal_request_takes_the_defaults()
    {
        var request = Valid(Messages(User));

        request.Model.ShouldBe("sim-chat");
        var message = request.Messages.ShouldHaveSingleItem();
        message.Role.ShouldBe("user");
        message.Content.ShouldBe([new TextPart("hi")]);
        message.Text.ShouldBe("hi");
        request.Stream.ShouldBeFalse();
        request.IncludeUsage.ShouldBeFalse();
        request.MaxTokens.ShouldBeNull();
        request.Temperature.ShouldBeNull();
        request.N.ShouldBe(1);
        request.Stop.ShouldBeEmpty();
        request.Tools.ShouldBeEmpty();
        request.ToolChoice.ShouldBeNull();
        request.ResponseFormat.ShouldBeNull();
    }

    [Fact]
    public void Every_field_of_a_full_request_is_read()
    {
        var request = Valid(With("""
            "stream":true,"stream_options":{"include_usage":true},
            "max_tokens":50,"max_completion_tokens":200,
            "temperature":0.7,"top_p":0.9,"top_k":40,"presence_penalty":-1.5,"frequency_penalty":2,
            "seed":-9007199254740993,"n":3,"stop":["END","\n\n"],"user":"user-7",
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
              "parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}},
              {"type":"function","function":{"name":"get-time_2"}}],
            "tool_choice":{"type":"function","function":{"name":"get_weather"}},
            "parallel_tool_calls":false,
            "response_format":{"type":"json_schema","json_schema":{"name":"weather","description":"d","strict":true,
              "schema":{"type":"object"}}}
            """));

        request.Stream.ShouldBeTrue();
        request.IncludeUsage.ShouldBeTrue();
        request.MaxTokens.ShouldBe(200);
        request.Temperature.ShouldBe(0.7);
        request.TopP.ShouldBe(0.9);
        request.TopK.ShouldBe(40);
        request.PresencePenalty.ShouldBe(-1.5);
        request.FrequencyPenalty.ShouldBe(2);
        request.Seed.ShouldBe(-9007199254740993);
        request.N.ShouldBe(3);
        request.Stop.ShouldBe(["END", "\n\n"]);
        request.User.ShouldBe("user-7");
        request.Tools.Count.ShouldBe(2);
        var weather = request.Tools[0];
        weather.Name.ShouldBe("get_weather");
        weather.Description.ShouldBe("Weather now");
        weather.Strict.ShouldBeTrue();
        weather.Parameters.ShouldNotBeNull()["properties"]!["city"]!["type"]!.GetValue<string>().ShouldBe("string");
        request.Tools[1].ShouldBe(new ToolDefinition("get-time_2", null, null, false));
        request.ToolChoice.ShouldBe(new ToolChoice("function", "get_weather"));
        request.ParallelToolCalls.ShouldBe(false);
        var format = request.ResponseFormat.ShouldNotBeNull();
        format.Type.ShouldBe("json_schema");
        format.SchemaName.ShouldBe("weather");
        format.Strict.ShouldBeTrue();
        format.Schema.ShouldNotBeNull()["type"]!.GetValue<string>().ShouldBe("object");
    }

    [Theory]
    [InlineData("""  "max_tokens":64""", 64)]
    [InlineData("""  "max_completion_tokens":128""", 128)]
    [InlineData("""  "max_tokens":64,"max_completion_tokens":128""", 128)]
    [InlineData("""  "max_tokens":null,"max_completion_tokens":null""", null)]
    public void Max_tokens_prefers_max_completion_tokens(string fields, int? expected) =>
        Valid(With(fields)).MaxTokens.ShouldBe(expected);

    [Fact]
    public void Optional_fields_set_to_null_count_as_absent()
    {
        var request = Valid(With("""
            "temperature":null,"top_p":null,"n":null,"stop":null,"seed":null,"stream":null,"stream_options":null,
            "tools":null,"tool_choice":null,"response_format":null,"user":null,"parallel_tool_calls":null
            """));

        request.Temperature.ShouldBeNull();
        request.N.ShouldBe(1);
        request.Stop.ShouldBeEmpty();
        request.Stream.ShouldBeFalse();
        request.Tools.ShouldBeEmpty();
        request.ToolChoice.ShouldBeNull();
        request.ResponseFormat.ShouldBeNull();
    }

    [Fact]
    public void Integral_numbers_written_with_a_fraction_or_exponent_are_accepted_as_numbers()
    {
        var request = Valid(With("""  "temperature":1,"top_p":5e-1"""));

        request.Temperature.ShouldBe(1);
        request.TopP.ShouldBe(0.5);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("auto")]
    [InlineData("required")]
    public void Tool_choice_modes_are_read(string mode) =>
        Valid(With($$$"""  "tools":[{{{WeatherTool}}}],"tool_choice":"{{{mode}}}" """)).ToolChoice.ShouldBe(new ToolChoice(mode));

    [Theory]
    [InlineData("none")]
    [InlineData("auto")]
    public void Tool_choice_none_and_auto_need_no_tools(string mode) =>
        Valid(With($$$"""  "tool_choice":"{{{mode}}}" """)).ToolChoice!.Mode.ShouldBe(mode);

    [Fact]
    public void A_stop_string_is_one_stop_sequence() =>
        Valid(With("""  "stop":"###" """)).Stop.ShouldBe(["###"]);

    [Theory]
    [InlineData("text")]
    [InlineData("json_object")]
    public void Simple_response_formats_are_read(string type) =>
        Valid(With($$$"""  "response_format":{"type":"{{{type}}}"}""")).ResponseFormat.ShouldBe(new ResponseFormat(type));

    [Fact]
    public void Multimodal_user_parts_are_read()
    {
        var request = Valid(UserParts($$$"""
            {"type":"text","text":"Describe these"},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"low"}},
            {"type":"image_url","image_url":{"url":"{{{Png}}}"}},
            {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"pcm16"}},
            {"type":"file","file":{"file_id":"file-abc123"}},
            {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}
            """));

        request.Messages[0].Content.ShouldBe([
            new TextPart("Describe these"),
            new ImagePart("https://example.com/cat.png", "low"),
            new ImagePart(Png, null),
            new AudioPart("UklGRg==", "pcm16"),
            new FilePart(null, null, "file-abc123"),
            new FilePart("a.pdf", "data:application/pdf;base64,JVBERi0=", null),
        ]);
    }

    [Fact]
    public void A_tool_conversation_is_read()
    {
        var request = Valid(Messages("""
            {"role":"developer","content":[{"type":"text","text":"Be brief. "},{"type":"text","text":"Use tools."}]},
            {"role":"user","content":"Weather in Paris?","name":"ann"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
              "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"18C, sunny"},
            {"role":"assistant","content":[{"type":"text","text":"18C. "},{"type":"refusal","refusal":"No more."}]}
            """));

        request.Messages.Select(m => m.Role).ShouldBe(["developer", "user", "assistant", "tool", "assistant"]);
        request.Messages[0].Text.ShouldBe("Be brief. Use tools.");
        request.Messages[1].Name.ShouldBe("ann");
        var call = request.Messages[2].ToolCalls.ShouldNotBeNull().ShouldHaveSingleItem();
        call.ShouldBe(new ToolCall("call_1", "get_weather", """{"city":"Paris"}"""));
        request.Messages[2].Content.ShouldBeEmpty();
        request.Messages[3].ToolCallId.ShouldBe("call_1");
        request.Messages[3].Text.ShouldBe("18C, sunny");
        request.Messages[4].Text.ShouldBe("18C. No more.");
    }

    [Fact]
    public void Unknown_fields_are_allowed_and_the_body_is_kept_as_sent()
    {
        var body = JsonNode.Parse(With("""  "reasoning_effort":"low","metadata":{"k":"v"},"logit_bias":{"50256":-100}"""));

        var request = ChatRequestParser.Parse(body).Request.ShouldNotBeNull();

        request.Body.ShouldBeSameAs(body);
        request.Body["reasoning_effort"]!.GetValue<string>().ShouldBe("low");
    }

    [Fact]
    public void An_empty_string_content_is_allowed() =>
        Valid(Messages("""{"role":"user","content":""}""")).Messages[0].Text.ShouldBe("");

    private static ChatRequest Valid(string json)
    {
        var result = ChatRequestParser.Parse(JsonNode.Parse(json));
        result.Error.ShouldBeNull();
        return result.Request.ShouldNotBeNull();
    }
}
