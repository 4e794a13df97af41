using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Features.Models;
using Infery.Api.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;

namespace Infery.Api.Tests.Features.Models;

public sealed class ModelsApiTests : IAsyncLifetime
{
    private const string CatalogJson = """
        {
          "providers": [ { "name": "simulator", "kind": "simulator" } ],
          "models": [
            { "slug": "sim-chat", "provider": "simulator", "owned_by": "infery", "created": 1767225600,
              "context_window": 128000, "max_output_tokens": 16384,
              "capabilities": { "vision": true, "tools": true, "json_schema": true, "audio_input": true,
                "input_modalities": ["text", "image", "audio"], "output_modalities": ["text"] },
              "prices": { "input": 0.5, "cached_input": 0.25, "cache_write": 0.000420, "output": 1.5 } },
            { "slug": "org/tiny", "provider": "simulator", "context_window": 4096, "max_output_tokens": 256,
              "prices": { "input": 0, "output": 12 } }
          ]
        }
        """;

    private WebApplication app = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddSingleton(CatalogLoader.LoadJson(CatalogJson));
        app = builder.Build();
        app.MapModelsApi();
        await app.StartAsync();
        client = app.GetTestClient();
    }

    public async Task DisposeAsync() => await app.DisposeAsync();

    [Fact]
    public async Task The_list_has_OpenAI_shape_plus_capabilities_and_prices()
    {
        var response = await client.GetAsync("/v1/models");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body["object"]!.GetValue<string>().ShouldBe("list");
        var data = body["data"]!.AsArray();
        data.Select(m => m!["id"]!.GetValue<string>()).ShouldBe(["sim-chat", "org/tiny"]);
        data[0]!.ToJsonString().ShouldBe("""
            {"id":"sim-chat","object":"model","created":1767225600,"owned_by":"infery","provider":"simulator","context_window":128000,"max_output_tokens":16384,"capabilities":{"supportsVision":true,"supportsPdf":false,"supportsTools":true,"supportsJsonSchema":true,"supportsAudioInput":true,"input_modalities":["text","image","audio"],"output_modalities":["text"]},"pricing":{"input":"0.500000","cached_input":"0.250000","cache_write":"0.000420","output":"1.500000"}}
            """);
    }

    [Fact]
    public async Task One_model_is_returned_by_id_even_with_a_slash()
    {
        var body = JsonNode.Parse(await client.GetStringAsync("/v1/models/org/tiny"))!;

        body["id"]!.GetValue<string>().ShouldBe("org/tiny");
        body["owned_by"]!.GetValue<string>().ShouldBe("simulator");
        body["pricing"]!["input"]!.GetValue<string>().ShouldBe("0.000000");
        body["pricing"]!["output"]!.GetValue<string>().ShouldBe("12.000000");
        body["capabilities"]!["supportsVision"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task An_unknown_model_is_a_404_in_the_OpenAI_error_envelope()
    {
        var response = await client.GetAsync("/v1/models/gpt-9");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.AsObject();
        error.Select(p => p.Key).ShouldBe(["message", "type", "param", "code"]);
        error["message"]!.GetValue<string>().ShouldBe("The model `gpt-9` does not exist or you do not have access to it.");
        error["type"]!.GetValue<string>().ShouldBe("invalid_request_error");
        error["param"]!.GetValue<string>().ShouldBe("model");
        error["code"]!.GetValue<string>().ShouldBe("model_not_found");
    }

    [Fact]
    public void Error_fields_without_a_value_are_sent_as_null()
    {
        var body = ApiError.InvalidApiKey().ToJson().ToJsonString();

        body.ShouldBe("""{"error":{"message":"Invalid API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""");
    }

    [Fact]
    public async Task The_official_OpenAI_SDK_reads_the_list_and_one_model()
    {
        var models = OpenAiClient().GetOpenAIModelClient();

        var list = (await models.GetModelsAsync()).Value;
        var one = (await models.GetModelAsync("sim-chat")).Value;

        list.Select(m => m.Id).ShouldBe(["sim-chat", "org/tiny"]);
        one.Id.ShouldBe("sim-chat");
        one.OwnedBy.ShouldBe("infery");
        one.CreatedAt.ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1767225600));
    }

    [Fact]
    public async Task The_official_OpenAI_SDK_sees_a_404_for_an_unknown_model()
    {
        var error = await Should.ThrowAsync<ClientResultException>(() => OpenAiClient().GetOpenAIModelClient().GetModelAsync("nope"));

        error.Status.ShouldBe(404);
    }

    [Fact]
    public void Handlers_can_be_called_directly()
    {
        var catalog = CatalogLoader.LoadJson(CatalogJson);

        ModelsApi.GetModel("sim-chat", catalog).ShouldNotBeNull();
        ModelsApi.ToResponse(catalog.All[1], 0)["pricing"]!["cache_write"]!.GetValue<string>().ShouldBe("0.000000");
    }

    private OpenAIClient OpenAiClient() => new(
        new ApiKeyCredential("inf_test"),
        new OpenAIClientOptions
        {
            Endpoint = new Uri(client.BaseAddress!, "/v1"),
            Transport = new HttpClientPipelineTransport(client),
            NetworkTimeout = TimeSpan.FromSeconds(10),
            RetryPolicy = new ClientRetryPolicy(0),
        });
}
