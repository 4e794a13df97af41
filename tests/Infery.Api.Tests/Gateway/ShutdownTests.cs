using System.Net;
using System.Text;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Infery.Api.Tests.Gateway;

/// <summary>
/// A gateway of its own: once told to stop, it cannot be started again. Its services stay up until the test is done,
/// as a server's do while it drains the requests in flight; the test host would otherwise dispose them at once.
/// </summary>
public sealed class StoppingGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url, firstByteMs: 30_000, idleMs: 30_000), SimulatorProvider], [FakeModel("fake-chat", "up-chat"), SimChat]),
    ConfiguredGatewayFactory.QuickRetries(),
    services => services.AddSingleton<HeldShutdown>().AddHostedService(provider => provider.GetRequiredService<HeldShutdown>()));

/// <summary>Holds the host's shutdown until released, for at most ten seconds.</summary>
public sealed class HeldShutdown : IHostedService
{
    private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => released.TrySetResult();

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken ct)
    {
        try
        {
            await released.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
        }
    }
}

/// <summary>Requests in flight when the gateway stops end with an answer and a ledger entry, never a 500 or a lost charge.</summary>
public sealed class ShutdownTests(StoppingGateway fixture) : IClassFixture<StoppingGateway>
{
    [Fact]
    public async Task Requests_in_flight_when_the_gateway_stops_are_answered_503_or_charged_for_what_was_streamed()
    {
        var waiting = new TaskCompletionSource();
        fixture.Upstream.Handler = async ctx =>
        {
            var stream = (await new StreamReader(ctx.Request.Body).ReadToEndAsync()).Contains("\"stream\":true");
            if (stream)
                await FakeUpstream.WriteSseAsync(ctx, ["""data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up-chat","choices":[{"index":0,"delta":{"role":"assistant","content":"Half an answer"},"finish_reason":null}]}""" + "\n\n"]);
            else
                waiting.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);

        using var streamRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"fake-chat","stream":true,"messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
        };
        using var streaming = await client.SendAsync(streamRequest, HttpCompletionOption.ResponseHeadersRead);
        var body = await streaming.Content.ReadAsStreamAsync();
        var firstChunk = new byte[64];
        await body.ReadAtLeastAsync(firstChunk, firstChunk.Length);
        var whole = client.ChatAsync("fake-chat", "Hello");
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10));

        fixture.Gateway.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var rest = await new StreamReader(body).ReadToEndAsync();
        var events = GatewayClients.SseData(rest);
        events.ShouldContain(e => e["error"] != null && e["error"]!["code"]!.GetValue<string>() == "gateway_shutting_down");
        events.ShouldContain(e => e["credits_used"] != null);
        rest.TrimEnd().ShouldEndWith("data: [DONE]");
        var streamId = streaming.Header("x-request-id");
        var served = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, streamId)).ShouldHaveSingleItem();
        served["outcome"]!.GetValue<string>().ShouldBe("gateway_shutdown");
        served["completion_tokens"]!.GetValue<int>().ShouldBeGreaterThan(0);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, streamId)).ShouldBe(1);

        var refused = await whole;
        refused.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await refused.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("gateway_shutting_down");
        var refusedId = refused.Header("x-request-id");
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestFailed, refusedId)).ShouldBe(1);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, refusedId)).ShouldBe(0);
        fixture.Gateway.Services.GetRequiredService<HeldShutdown>().Release();
    }
}
