using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Npgsql;
using OpenAI;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>
/// The gateway with a catalog of its own: the simulator's models, plus one model for each real provider kind
/// whose upstream is a <see cref="FakeUpstream"/> speaking that provider's wire format. Each fake answers with
/// <see cref="ProviderWire"/>'s default replies until a test sets its handler. Also reads the ledger.
/// </summary>
public sealed class ChatGateway : GatewayFactory
{
    private readonly string catalogDirectory = Directory.CreateTempSubdirectory("infery-chat-catalog-").FullName;

    public FakeUpstream OpenAi { get; private set; } = null!;
    public FakeUpstream Anthropic { get; private set; } = null!;
    public FakeUpstream Gemini { get; private set; } = null!;

    protected override string? CatalogPath => Path.Combine(catalogDirectory, "catalog.json");

    // These tests are about how each provider's answers and failures map, one call each: no retries, and
    // circuits that never open, so one test's failing upstream does not close a model for the next.
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Resilience:RetriesPerModel"] = "0",
        ["Resilience:CircuitBreaker:MinimumThroughput"] = "1000000",
    };

    public override async Task InitializeAsync()
    {
        OpenAi = await FakeUpstream.StartAsync();
        Anthropic = await FakeUpstream.StartAsync();
        Gemini = await FakeUpstream.StartAsync();
        ResetFakes();
        await File.WriteAllTextAsync(CatalogPath!, CatalogJson());
        await base.InitializeAsync();
    }

    public void ResetFakes()
    {
        OpenAi.Handler = ProviderWire.OpenAiReply;
        Anthropic.Handler = ProviderWire.AnthropicReply;
        Gemini.Handler = ProviderWire.GeminiReply;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await OpenAi.DisposeAsync();
        await Anthropic.DisposeAsync();
        await Gemini.DisposeAsync();
        Directory.Delete(catalogDirectory, recursive: true);
    }

    /// <summary>
    /// sim-flaky has no fallbacks here, so its failure reaches the client. Prices of the fake models are chosen
    /// so each token bucket has a different rate and a wrong bucket shows in the charge.
    /// </summary>
    private string CatalogJson() => $$"""
        {
          "providers": [
            { "name": "simulator", "kind": "simulator" },
            { "name": "fake-openai", "kind": "openai", "base_url": "{{OpenAi.BaseUrl}}", "first_byte_ms": 10000, "idle_ms": 10000 },
            { "name": "fake-anthropic", "kind": "anthropic", "base_url": "{{Anthropic.BaseUrl}}", "first_byte_ms": 10000, "idle_ms": 10000 },
            { "name": "fake-gemini", "kind": "gemini", "base_url": "{{Gemini.BaseUrl}}", "first_byte_ms": 10000, "idle_ms": 10000 }
          ],
          "models": [
            { "slug": "sim-chat", "provider": "simulator", "context_window": 128000, "max_output_tokens": 4096,
              "capabilities": { "vision": true, "tools": true, "json_schema": true, "audio_input": true,
                "input_modalities": ["text", "image", "audio"] },
              "prices": { "input": 0.5, "cached_input": 0.25, "cache_write": 0.625, "output": 1.5 } },
            { "slug": "sim-claude", "provider": "simulator", "context_window": 200000, "max_output_tokens": 4096,
              "capabilities": { "vision": true, "pdf": true, "tools": true, "json_schema": true, "audio_input": false,
                "input_modalities": ["text", "image", "file"] },
              "prices": { "input": 3, "cached_input": 0.3, "cache_write": 3.75, "output": 15 } },
            { "slug": "sim-flaky", "provider": "simulator", "context_window": 128000, "max_output_tokens": 4096,
              "capabilities": { "tools": true },
              "prices": { "input": 0.5, "output": 1.5 } },
            { "slug": "fake-openai", "provider": "fake-openai", "upstream_model": "gpt-upstream", "context_window": 128000, "max_output_tokens": 4096,
              "capabilities": { "vision": true, "tools": true, "json_schema": true },
              "prices": { "input": 2, "cached_input": 1, "output": 8 } },
            { "slug": "fake-claude", "provider": "fake-anthropic", "upstream_model": "claude-upstream", "context_window": 200000, "max_output_tokens": 4096,
              "capabilities": { "vision": true, "tools": true, "json_schema": true },
              "prices": { "input": 3, "cached_input": 0.3, "cache_write": 3.75, "output": 15 } },
            { "slug": "fake-gemini", "provider": "fake-gemini", "upstream_model": "gemini-upstream", "context_window": 1000000, "max_output_tokens": 4096,
              "capabilities": { "vision": true, "tools": true, "json_schema": true },
              "prices": { "input": 0.3, "cached_input": 0.075, "output": 2.5 } }
          ]
        }
        """;

    /// <summary>The official OpenAI .NET SDK pointed at the in-memory gateway, without retries.</summary>
    public OpenAIClient Sdk(string apiKey) => new(
        new ApiKeyCredential(apiKey),
        new OpenAIClientOptions
        {
            Endpoint = new Uri(Server.BaseAddress, "/v1"),
            Transport = new HttpClientPipelineTransport(CreateClient()),
            NetworkTimeout = TimeSpan.FromSeconds(30),
            RetryPolicy = new ClientRetryPolicy(0),
        });

    /// <summary>The amounts (micro-credits) of every credits.charged.v1 event recorded for a request id.</summary>
    public async Task<IReadOnlyList<long>> ChargesAsync(string requestId) =>
        (await EventsAsync("credits.charged.v1", requestId)).Select(e => e["amount"]!.GetValue<long>()).ToList();

    public async Task<IReadOnlyList<JsonObject>> EventsAsync(string type, string requestId)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select data::text from events where type = $1 and data->>'request_id' = $2 order by seq", connection);
        command.Parameters.AddWithValue(type);
        command.Parameters.AddWithValue(requestId);
        var events = new List<JsonObject>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            events.Add(JsonNode.Parse(reader.GetString(0))!.AsObject());
        return events;
    }

    /// <summary>For work the gateway finishes after the client has gone: waits until the event is recorded.</summary>
    public async Task<JsonObject> WaitForEventAsync(string type, string requestId)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            if ((await EventsAsync(type, requestId)) is [var recorded, ..])
                return recorded;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no {type} event for {requestId} was recorded");
    }
}
