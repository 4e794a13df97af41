using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Features.Health;

public sealed class HealthApiTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Fact]
    public async Task Live_answers_ok()
    {
        var response = await gateway.CreateClient().GetAsync("/health/live");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Ready_once_the_database_is_reachable_and_the_schema_applied()
    {
        var response = await gateway.CreateClient().GetAsync("/health/ready");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldContain("ready");
    }

    [Fact]
    public async Task Every_response_carries_a_request_id_and_echoes_the_clients_own()
    {
        var client = gateway.CreateClient();

        var generated = await client.GetAsync("/health/live");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        request.Headers.Add("x-request-id", "client-chosen-42");
        var echoed = await client.SendAsync(request);
        var notFound = await client.GetAsync("/no/such/route");

        generated.Headers.GetValues("x-request-id").Single().ShouldStartWith("req_");
        echoed.Headers.GetValues("x-request-id").Single().ShouldBe("client-chosen-42");
        notFound.Headers.GetValues("x-request-id").Single().ShouldStartWith("req_");
    }

    [Fact]
    public async Task An_unknown_url_gets_a_404_in_the_error_envelope()
    {
        var response = await gateway.CreateClient().GetAsync("/v1/nothing-here");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        error["type"]!.GetValue<string>().ShouldBe("invalid_request_error");
        error["code"]!.GetValue<string>().ShouldBe("unknown_url");
        error.AsObject().ContainsKey("param").ShouldBeTrue();
    }
}

public sealed class ReadinessWithoutDatabaseTests
{
    [Fact]
    public async Task Ready_is_503_while_the_database_cannot_be_reached()
    {
        await using var gateway = new UnreachableDatabaseGateway();

        var ready = await gateway.CreateClient().GetAsync("/health/ready");
        var live = await gateway.CreateClient().GetAsync("/health/live");

        ready.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        live.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private sealed class UnreachableDatabaseGateway : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>
    {
        private readonly string owedChargesJournal = Path.Combine(Path.GetTempPath(), $"infery-owed-{Guid.NewGuid():N}.jsonl");

        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
        {
            builder.UseSetting("INFERY_DB", "Host=127.0.0.1;Port=1;Username=nobody;Timeout=1");
            builder.UseSetting("OwedCharges:JournalPath", owedChargesJournal);
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            File.Delete(owedChargesJournal);
        }
    }
}
