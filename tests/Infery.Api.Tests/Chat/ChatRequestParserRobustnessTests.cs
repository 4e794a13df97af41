using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Chat;

namespace Infery.Api.Tests.Chat;

/// <summary>Whatever arrives, the parser answers with a request or a 400; it never throws.</summary>
public class ChatRequestParserRobustnessTests
{
    private const string RichRequest = """
        {"model":"sim-chat","stream":true,"stream_options":{"include_usage":true},"max_tokens":10,"temperature":1,
         "top_p":0.5,"top_k":3,"n":1,"stop":["x"],"seed":1,"user":"u","parallel_tool_calls":true,
         "messages":[
           {"role":"system","content":"s"},
           {"role":"user","content":[{"type":"text","text":"t"},{"type":"image_url","image_url":{"url":"https://a.test/i.png","detail":"auto"}},
             {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},{"type":"file","file":{"file_id":"f"}}]},
           {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
           {"role":"tool","tool_call_id":"c","content":"r"}],
         "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":false}}],
         "tool_choice":{"type":"function","function":{"name":"f"}},
         "response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"},"strict":true}}}
        """;

    private static readonly string[] Replacements =
    [
        "null", "0", "-1", "1.5", "1e308", "-1e308", "3000000000", "\"\"", "\"x\"", "\"1\"", "true", "false",
        "[]", "[null]", "[[]]", "{}", "{\"type\":null}", "{\"type\":\"text\"}", "[{\"type\":\"function\"}]",
    ];

    [Fact]
    public void Replacing_or_removing_any_field_never_throws()
    {
        var paths = PathsOf(JsonNode.Parse(RichRequest)!);
        var outcomes = 0;
        foreach (var path in paths)
        {
            foreach (var replacement in Replacements.Append(null))
            {
                var body = JsonNode.Parse(RichRequest)!;
                Replace(body, path, replacement);

                var result = Should.NotThrow(() => ChatRequestParser.Parse(body), $"{path} = {replacement ?? "(removed)"}");

                if (!result.IsValid)
                {
                    result.Error.Status.ShouldBe(400);
                    result.Error.Message.ShouldNotBeNullOrWhiteSpace();
                }
                outcomes++;
            }
        }
        outcomes.ShouldBeGreaterThan(1000);
    }

    [Fact]
    public void Deeply_nested_content_is_a_400()
    {
        var nested = new string('[', 5000) + new string(']', 5000);
        var body = Parse($$"""{"model":"m","messages":[{"role":"user","content":{{nested}}}]}""");

        var result = ChatRequestParser.Parse(body);

        result.Error.ShouldNotBeNull().Param.ShouldBe("messages[0].content[0]");
    }

    [Fact]
    public void Deeply_nested_unknown_fields_are_passed_through()
    {
        var nested = string.Concat(Enumerable.Repeat("{\"a\":", 5000)) + "1" + new string('}', 5000);
        var body = Parse($$"""{"model":"m","messages":[{"role":"user","content":"hi"}],"extra":{{nested}}}""");

        ChatRequestParser.Parse(body).IsValid.ShouldBeTrue();
    }

    [Fact]
    public void A_repeated_name_deep_inside_an_unknown_field_is_a_400()
    {
        var body = JsonNode.Parse("""{"model":"m","messages":[{"role":"user","content":"hi"}],"extra":[{"k":{"a":1,"a":2}}]}""");

        ChatRequestParser.Parse(body).Error.ShouldNotBeNull().Param.ShouldBe("extra[0].k");
    }

    [Fact]
    public void Huge_arrays_are_handled()
    {
        var messages = string.Join(",", Enumerable.Repeat("""{"role":"user","content":"hi"}""", 50_000));
        var stop = string.Join(",", Enumerable.Repeat("\"x\"", 50_000));

        ChatRequestParser.Parse(Parse($$"""{"model":"m","messages":[{{messages}}]}""")).Request!.Messages.Count.ShouldBe(50_000);
        ChatRequestParser.Parse(Parse($$"""{"model":"m","messages":[{{messages}}],"stop":[{{stop}}]}""")).Error!.Param.ShouldBe("stop");
    }

    [Fact]
    public void A_huge_bad_value_is_not_echoed_whole_in_the_message()
    {
        var role = new string('r', 1_000_000);

        var result = ChatRequestParser.Parse(Parse($$"""{"model":"m","messages":[{"role":"{{role}}","content":"hi"}]}"""));

        result.Error!.Param.ShouldBe("messages[0].role");
        result.Error.Message.Length.ShouldBeLessThan(500);
    }

    [Fact]
    public void Nodes_built_in_code_are_read_like_parsed_ones()
    {
        var body = new JsonObject
        {
            ["model"] = "m",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
            ["temperature"] = 0.5,
            ["max_tokens"] = 12,
            ["stream"] = false,
        };

        var request = ChatRequestParser.Parse(body).Request.ShouldNotBeNull();

        request.Temperature.ShouldBe(0.5);
        request.MaxTokens.ShouldBe(12);
        ChatRequestParser.Parse(new JsonObject { ["model"] = "m", ["messages"] = new JsonArray(), ["temperature"] = double.NaN })
            .Error!.Param.ShouldBe("messages");
        body["temperature"] = double.NaN;
        ChatRequestParser.Parse(body).Error!.Param.ShouldBe("temperature");
    }

    private static JsonNode Parse(string json) =>
        JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 20_000 })!;

    /// <summary>Every property and array item, as a list of steps (names and indexes) from the root.</summary>
    private static List<object[]> PathsOf(JsonNode root)
    {
        var paths = new List<object[]>();
        void Walk(JsonNode? node, object[] path)
        {
            if (path.Length > 0)
                paths.Add(path);
            if (node is JsonObject obj)
                foreach (var (name, child) in obj)
                    Walk(child, [.. path, name]);
            else if (node is JsonArray array)
                for (var i = 0; i < array.Count; i++)
                    Walk(array[i], [.. path, i]);
        }
        Walk(root, []);
        return paths;
    }

    private static void Replace(JsonNode root, object[] path, string? replacement)
    {
        var parent = path[..^1].Aggregate(root, (node, step) => step is string name ? node[name]! : node[(int)step]!);
        var value = replacement is null ? null : JsonNode.Parse(replacement);
        switch (path[^1])
        {
            case string name when replacement is null:
                parent.AsObject().Remove(name);
                break;
            case string name:
                parent[name] = value;
                break;
            case int index when replacement is null:
                parent.AsArray().RemoveAt(index);
                break;
            case int index:
                parent[index] = value;
                break;
        }
    }
}
