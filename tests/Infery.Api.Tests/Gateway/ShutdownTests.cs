using System.Net;
using System.Text;
using Infery.Api.Gateway;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Infery.Api.Tests.Gateway;

/// <summary>
/// A gateway of its own: once told to stop, it cannot be started again. A shutdown timeout of two seconds gives the
/// requests in flight one second of grace. Its services stay up until the test is done, as a server's do while it
/// drains the requests in flight; the test host would otherwise dispose them at once.
/// </summary>
public sealed class StoppingGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url, firstByteMs: 30_000, idleMs: 30_000), SimulatorProvider], [FakeModel("fake-chat", "up-chat"), SimChat]),
    ConfiguredGatewayFactory.QuickRetries(),
    services => services
        .Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2))
        .AddSingleton<HeldShutdown>().AddHostedService(provider => provider.GetRequiredService<HeldShutdown>()));

/// <summary>Holds the host's shutdown, past its timeout, until released or for at most fifteen seconds.</summary>
public sealed class HeldShutdown : IHostedService
{
    private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => released.TrySetResult();

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken ct)
    {
        try
        {
            await released.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException)
        {
        }
    }
}

/// <summary>
/// Requests in flight when the gateway stops are served to their end within the grace; those still running when it
/// ends get an answer and a ledger entry, never a 500 or a lost charge.
/// </summary>
public sealed class ShutdownTests(StoppingGateway fixture) : IClassFixture<StoppingGateway>
{
    [Fact]
    public async Task Requests_in_flight_are_served_within_the_grace_and_those_outlasting_it_are_answered_503_or_charged_for_what_was_streamed()
    {
        var stopped = new TaskCompletionSource();
        var bothWaiting = new CountdownEvent(2);
        fixture.Upstream.Handler = async ctx =>
        {
            var sent = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
            if (sent.Contains("\"stream\":true"))
            {
                await FakeUpstream.WriteSseAsync(ctx, ["""data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up-chat","choices":[{"index":0,"delta":{"role":"assistant","content":"Half an answer"},"finish_reason":null}]}""" + "\n\n"]);
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            bothWaiting.Signal();
            if (sent.Contains("quick"))
            {
                await stopped.Task;
                await Task.Delay(200);
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync("""
                    {"id":"u","object":"chat.completion","created":1,"model":"up-chat","usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8},
                     "choices":[{"index":0,"message":{"role":"assistant","content":"Answered while draining"},"finish_reason":"stop"}]}
                    """);
                return;
            }
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
        var quick = client.ChatAsync("fake-chat", "quick");
        var endless = client.ChatAsync("fake-chat", "endless");
        bothWaiting.Wait(TimeSpan.FromSeconds(10)).ShouldBeTrue();

        fixture.Gateway.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        stopped.SetResult();

        var served = await quick;
        served.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await served.JsonAsync())["choices"]![0]!["message"]!["content"]!.GetValue<string>().ShouldBe("Answered while draining");
        var servedId = served.Header("x-request-id");
        (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, servedId)).ShouldHaveSingleItem()["outcome"]!
            .GetValue<string>().ShouldBe("completed");
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, servedId)).ShouldBe(1);

        var rest = await new StreamReader(body).ReadToEndAsync();
        var events = GatewayClients.SseData(rest);
        events.ShouldContain(e => e["error"] != null && e["error"]!["code"]!.GetValue<string>() == "gateway_shutting_down");
        events.ShouldContain(e => e["credits_used"] != null);
        rest.TrimEnd().ShouldEndWith("data: [DONE]");
        var streamId = streaming.Header("x-request-id");
        var cut = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, streamId)).ShouldHaveSingleItem();
        cut["outcome"]!.GetValue<string>().ShouldBe("gateway_shutdown");
        cut["completion_tokens"]!.GetValue<int>().ShouldBeGreaterThan(0);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, streamId)).ShouldBe(1);

        var refused = await endless;
        refused.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await refused.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("gateway_shutting_down");
        var refusedId = refused.Header("x-request-id");
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestFailed, refusedId)).ShouldBe(1);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, refusedId)).ShouldBe(0);

        var ready = await fixture.Gateway.CreateClient().GetAsync("/health/ready");
        ready.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await ready.Content.ReadAsStringAsync()).ShouldContain("shutting down");
        fixture.Gateway.Services.GetRequiredService<HeldShutdown>().Release();
    }

    [Theory]
    [InlineData(0, 30, true)]
    [InlineData(20, 30, true)]
    [InlineData(25, 30, false)]
    [InlineData(30, 60, true)]
    [InlineData(301, 400, false)]
    [InlineData(-1, 30, false)]
    public void The_readiness_delay_must_end_within_the_drains_grace(int delaySeconds, int timeoutSeconds, bool fits) =>
        new ShutdownOptions { ReadinessDelaySeconds = delaySeconds }.FitsWithin(TimeSpan.FromSeconds(timeoutSeconds)).ShouldBe(fits);

    [Theory]
    [InlineData(30, 25)]
    [InlineData(8, 4)]
    [InlineData(0, 0)]
    public void The_grace_leaves_five_seconds_of_the_shutdown_timeout_or_half_of_a_shorter_one(int timeoutSeconds, int graceSeconds) =>
        ShutdownDrain.GraceWithin(TimeSpan.FromSeconds(timeoutSeconds)).ShouldBe(TimeSpan.FromSeconds(graceSeconds));
}
