using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Infery.Api.Tests.Fixtures;

/// <summary>
/// A fake OpenAI-compatible upstream and a gateway whose catalog serves models from it, beside the simulator's
/// sim-chat as a healthy fallback. The catalog is made from the fake's address once it listens. With
/// <paramref name="loopback"/>, the gateway listens on a real loopback port, where a client that hangs up
/// reaches it as it would in production; the test server does not always pass that on.
/// </summary>
public abstract class FakeUpstreamGateway(
    Func<Uri, string> catalog, Dictionary<string, string> settings, Action<IServiceCollection>? services = null, bool loopback = false) : IAsyncLifetime
{
    public FakeUpstream Upstream { get; private set; } = null!;

    public GatewayFactory Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await FakeUpstream.StartAsync(Healthy());
        Gateway = new ConfiguredGatewayFactory(settings, catalog(Upstream.BaseUrl), services);
        if (loopback)
            Gateway.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        await Gateway.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    /// <summary>A provider entry for the fake, with short timeouts so a slow upstream is found out quickly.</summary>
    public static string FakeProvider(Uri baseUrl, int firstByteMs = 300, int idleMs = 1000) =>
        $$"""{ "name": "fake", "kind": "openai", "base_url": "{{baseUrl}}v1/", "connect_ms": 1000, "first_byte_ms": {{firstByteMs}}, "idle_ms": {{idleMs}} }""";

    public const string SimulatorProvider = """{ "name": "simulator", "kind": "simulator" }""";

    public const string SimChat = """
        { "slug": "sim-chat", "provider": "simulator", "context_window": 128000, "max_output_tokens": 4096,
          "prices": { "input": 0.5, "output": 1.5 } }
        """;

    public static string FakeModel(string slug, string upstreamModel, params string[] fallbacks) => $$"""
        { "slug": "{{slug}}", "provider": "fake", "upstream_model": "{{upstreamModel}}", "context_window": 128000, "max_output_tokens": 4096,
          "prices": { "input": 1, "output": 2 }, "fallbacks": [{{string.Join(", ", fallbacks.Select(f => $"\"{f}\""))}}] }
        """;

    public static string Catalog(IEnumerable<string> providers, IEnumerable<string> models) =>
        $$"""{ "providers": [{{string.Join(",", providers)}}], "models": [{{string.Join(",", models)}}] }""";

    /// <summary>Answers every call with a small completion, after an optional delay.</summary>
    public static RequestDelegate Healthy(TimeSpan? delay = null) => async ctx =>
    {
        if (delay is { } d)
            await Task.Delay(d);
        var sent = JsonNode.Parse(await new StreamReader(ctx.Request.Body).ReadToEndAsync())!;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync($$$"""
            {"id":"chatcmpl-upstream","object":"chat.completion","created":1,"model":"{{{sent["model"]}}}",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Hello from upstream"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}
            """);
    };

    public static RequestDelegate Failing(int status, string? retryAfterMs = null) => async ctx =>
    {
        ctx.Response.StatusCode = status;
        if (retryAfterMs is not null)
            ctx.Response.Headers["retry-after-ms"] = retryAfterMs;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync("""{"error":{"message":"upstream says no","type":"server_error","param":null,"code":null}}""");
    };
}
