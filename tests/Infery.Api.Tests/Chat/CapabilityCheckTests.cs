using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;

namespace Infery.Api.Tests.Chat;

public class CapabilityCheckTests
{
    private const string Audio = """{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}""";
    private const string Image = """{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}""";
    private const string Pdf = """{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}""";
    private const string Text = """{"type":"text","text":"look"}""";

    private static readonly ModelCapabilities Everything = new(true, true, true, true, true, ["text", "image", "audio", "file"], ["text"]);
    private static readonly ModelCapabilities TextOnly = new(false, false, false, false, false, ["text"], ["text"]);

    private static CatalogModel Model(ModelCapabilities capabilities) => new(
        "test-model",
        new ProviderConfig("sim", ProviderKind.Simulator, null, null, ProviderTimeouts.Default),
        "test-model", "infery", 1000, 100, capabilities, new ModelPrices(1, 1, 1, 1));

    private static ChatRequest Request(string userParts, string fields = "")
    {
        var json = $$"""
            {"model":"test-model","messages":[{"role":"system","content":"s"},{"role":"user","content":[{{userParts}}]}]{{fields}}}
            """;
        return ChatRequestParser.Parse(JsonNode.Parse(json)).Request.ShouldNotBeNull();
    }

    [Fact]
    public void A_model_that_takes_everything_accepts_every_part()
    {
        var request = Request($"{Text},{Image},{Audio},{Pdf}",
            ""","tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_schema","json_schema":{"name":"s"}}""");

        CapabilityCheck.Check(request, Model(Everything)).ShouldBeNull();
    }

    [Theory]
    [InlineData(""","max_tokens":101""", "max_tokens")]
    [InlineData(""","max_completion_tokens":101""", "max_completion_tokens")]
    [InlineData(""","max_tokens":5,"max_completion_tokens":2147483647""", "max_completion_tokens")]
    public void More_output_than_the_model_can_write_is_refused_naming_the_field(string fields, string param)
    {
        var error = CapabilityCheck.Check(Request(Text, fields), Model(Everything)).ShouldNotBeNull();

        error.Status.ShouldBe(400);
        error.Code.ShouldBe("max_tokens_too_large");
        error.Param.ShouldBe(param);
        error.Message.ShouldContain("at most 100");
    }

    [Fact]
    public void As_much_output_as_the_model_can_write_is_accepted()
    {
        CapabilityCheck.Check(Request(Text, ""","max_completion_tokens":100"""), Model(Everything)).ShouldBeNull();
    }

    [Fact]
    public void Audio_to_a_model_without_audio_input_names_the_part()
    {
        var error = CapabilityCheck.Check(Request($"{Text},{Audio}"), Model(Everything with { AudioInput = false })).ShouldNotBeNull();

        error.Status.ShouldBe(400);
        error.Type.ShouldBe("invalid_request_error");
        error.Code.ShouldBe("audio_not_supported_by_model");
        error.Param.ShouldBe("messages[1].content[1]");
        error.Message.ShouldContain("test-model");
    }

    [Fact]
    public void An_image_to_a_model_without_vision_names_the_part()
    {
        var error = CapabilityCheck.Check(Request($"{Text},{Text},{Image}"), Model(Everything with { Vision = false })).ShouldNotBeNull();

        error.Code.ShouldBe("image_not_supported_by_model");
        error.Param.ShouldBe("messages[1].content[2]");
    }

    [Fact]
    public void The_first_unsupported_part_is_reported()
    {
        var error = CapabilityCheck.Check(Request($"{Image},{Audio}"), Model(TextOnly)).ShouldNotBeNull();

        error.Code.ShouldBe("image_not_supported_by_model");
        error.Param.ShouldBe("messages[1].content[0]");
    }

    [Fact]
    public void Tools_to_a_model_without_tools_are_refused()
    {
        var request = Request(Text, ""","tools":[{"type":"function","function":{"name":"f"}}]""");

        var error = CapabilityCheck.Check(request, Model(Everything with { Tools = false })).ShouldNotBeNull();

        error.Code.ShouldBe("tools_not_supported_by_model");
        error.Param.ShouldBe("tools");
    }

    [Fact]
    public void A_json_schema_to_a_model_without_json_schema_is_refused()
    {
        var request = Request(Text, ""","response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}}""");

        var error = CapabilityCheck.Check(request, Model(Everything with { JsonSchema = false })).ShouldNotBeNull();

        error.Code.ShouldBe("json_schema_not_supported_by_model");
        error.Param.ShouldBe("response_format");
    }

    [Fact]
    public void Json_object_mode_needs_no_json_schema_support() =>
        CapabilityCheck.Check(Request(Text, ""","response_format":{"type":"json_object"}"""), Model(TextOnly)).ShouldBeNull();

    [Fact]
    public void A_file_by_id_is_refused_for_every_model_until_there_is_a_files_api()
    {
        var error = CapabilityCheck.Check(Request($"{Text},{{\"type\":\"file\",\"file\":{{\"file_id\":\"file-abc\"}}}}"), Model(Everything)).ShouldNotBeNull();

        error.Status.ShouldBe(400);
        error.Code.ShouldBe("file_id_not_supported");
        error.Param.ShouldBe("messages[1].content[1].file.file_id");
    }

    [Fact]
    public void A_pdf_to_a_model_without_native_pdf_is_allowed_for_conversion() =>
        CapabilityCheck.Check(Request($"{Text},{Pdf}"), Model(Everything with { Pdf = false })).ShouldBeNull();

    [Fact]
    public void Plain_text_passes_a_text_only_model() =>
        CapabilityCheck.Check(Request(Text), Model(TextOnly)).ShouldBeNull();

    [Fact]
    public void The_shipped_sim_claude_refuses_audio_as_the_docs_promise()
    {
        var catalog = CatalogLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "catalog.json"), environment: _ => null);
        catalog.TryGet("sim-claude", out var claude).ShouldBeTrue();
        catalog.TryGet("sim-chat", out var chat).ShouldBeTrue();

        CapabilityCheck.Check(Request(Audio), claude).ShouldNotBeNull().Code.ShouldBe("audio_not_supported_by_model");
        CapabilityCheck.Check(Request(Audio), chat).ShouldBeNull();
    }
}
