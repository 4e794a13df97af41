using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI;

namespace Infery.Api.Tests.Fixtures;

public static class GatewayClients
{
    /// <summary>The official OpenAI SDK pointed at the gateway, without retries of its own.</summary>
    public static OpenAIClient OpenAi(GatewayFactory gateway, string key)
    {
        var http = gateway.CreateClient();
        return new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions
        {
            Endpoint = new Uri(http.BaseAddress!, "/v1"),
            Transport = new HttpClientPipelineTransport(http),
            NetworkTimeout = TimeSpan.FromSeconds(30),
            RetryPolicy = new ClientRetryPolicy(0),
        });
    }

    public static string Header(this ClientResult result, string name) =>
        result.GetRawResponse().Headers.TryGetValue(name, out var value) ? value! : throw new ShouldAssertException($"no {name} header");

    public static string Header(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
        : response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values)
        : throw new ShouldAssertException($"no {name} header");

    public static string? OptionalHeader(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    public static Task<HttpResponseMessage> ChatAsync(
        this HttpClient client, string model, string message, bool stream = false, string? idempotencyKey = null, string? requestId = null,
        CancellationToken ct = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new JsonObject
            {
                ["model"] = model,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = message }),
                ["stream"] = stream,
                ["max_tokens"] = 200,
            }),
        };
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (requestId is not null)
            request.Headers.Add("x-request-id", requestId);
        return client.SendAsync(request, ct);
    }

    public static async Task<JsonObject> JsonAsync(this HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    /// <summary>The data lines of an SSE body, without [DONE].</summary>
    public static List<JsonObject> SseData(string body) => body
        .Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
        .Where(e => e.StartsWith("data: ", StringComparison.Ordinal) && e != "data: [DONE]")
        .Select(e => JsonNode.Parse(e["data: ".Length..])!.AsObject())
        .ToList();
}
