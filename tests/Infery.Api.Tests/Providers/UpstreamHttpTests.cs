using Infery.Api.Catalog;
using Infery.Api.Providers;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Providers;

/// <summary>One client per provider carries the requests of every workspace, so nothing of one answer may ride along with the next request.</summary>
public sealed class UpstreamHttpTests : IAsyncLifetime
{
    private readonly HttpClient http = UpstreamHttp.CreateClient(ProviderTimeouts.Default);
    private FakeUpstream upstream = null!;

    public async Task InitializeAsync() => upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        http.Dispose();
        await upstream.DisposeAsync();
    }

    [Fact]
    public async Task A_cookie_a_provider_sets_is_not_sent_with_the_next_request()
    {
        upstream.Handler = ctx =>
        {
            ctx.Response.Headers.SetCookie = "__cf_bm=one-workspaces-session; Path=/; HttpOnly";
            return ctx.Response.WriteAsync("{}");
        };

        for (var i = 0; i < 2; i++)
            (await SendAsync()).Dispose();

        upstream.Received.Count.ShouldBe(2);
        upstream.Received[1].Headers.ContainsKey("Cookie").ShouldBeFalse();
    }

    [Fact]
    public async Task A_redirect_is_not_followed_but_fails_as_an_unreachable_provider()
    {
        upstream.Handler = ctx =>
        {
            if (ctx.Request.Path == "/elsewhere")
                return ctx.Response.WriteAsync("{}");
            ctx.Response.StatusCode = 307;
            ctx.Response.Headers.Location = new Uri(upstream.BaseUrl, "elsewhere").ToString();
            return Task.CompletedTask;
        };

        var failure = await Should.ThrowAsync<ProviderException>(SendAsync);

        failure.Failure.ShouldBe(ProviderFailure.Unreachable);
        failure.UpstreamStatus.ShouldBe(307);
        failure.CanFallback.ShouldBeTrue();
        upstream.Received.Select(r => r.Path).ShouldBe(["/chat/completions"]);
    }

    [Fact]
    public async Task A_refused_connection_is_described_without_the_upstreams_address()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var failure = await Should.ThrowAsync<ProviderException>(() => UpstreamHttp.SendAsync(http,
            new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/v1/chat/completions") { Content = new StringContent("{}") },
            ProviderTimeouts.Default, body => body, CancellationToken.None));

        failure.Failure.ShouldBe(ProviderFailure.Unreachable);
        failure.Message.ShouldBe("the connection failed (ConnectionRefused)");
        failure.ToApiError().Message.ShouldNotContain(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private Task<HttpResponseMessage> SendAsync() =>
        UpstreamHttp.SendAsync(http, new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.BaseUrl, "chat/completions"))
        {
            Content = new StringContent("{}"),
        }, ProviderTimeouts.Default, body => body, CancellationToken.None);
}
