using System.Net;
using Infery.Api.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Infery.Api.Tests.Gateway;

/// <summary>A gateway of its own on a real socket, told to keep its listener open for two seconds once it must stop.</summary>
public sealed class LateClosingGateway : LoopbackGateway
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Shutdown:ReadinessDelaySeconds"] = "2",
    };
}

public sealed class ReadinessDelayTests(LateClosingGateway gateway) : IClassFixture<LateClosingGateway>
{
    [Fact]
    public async Task Told_to_stop_the_gateway_keeps_serving_new_connections_with_readiness_503_for_the_delay_then_closes_its_listener()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);

        gateway.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        // Without the delay the listener is closed well within this.
        await Task.Delay(TimeSpan.FromMilliseconds(500));

        var ready = await gateway.CreateClient().GetAsync("/health/ready");
        ready.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await ready.Content.ReadAsStringAsync()).ShouldContain("shutting down");
        (await gateway.KeyClient(key).GetAsync("/v1/models")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var closedAt = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                await gateway.CreateClient().GetAsync("/health/live");
            }
            catch (HttpRequestException)
            {
                break;
            }
            DateTime.UtcNow.ShouldBeLessThan(closedAt, "the listener should close once the delay is over");
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }
}
