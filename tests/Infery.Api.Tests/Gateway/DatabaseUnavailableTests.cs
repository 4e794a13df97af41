using System.Net;
using System.Net.Sockets;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Gateway;

/// <summary>A gateway whose database is not there: nothing listens on its port.</summary>
public sealed class GatewayWithoutDatabase : GatewayFactory
{
    public override Task InitializeAsync()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=none;Timeout=2";
        _ = Services;
        return Task.CompletedTask;
    }
}

public sealed class DatabaseUnavailableTests(GatewayWithoutDatabase gateway) : IClassFixture<GatewayWithoutDatabase>
{
    [Fact]
    public async Task A_request_while_the_database_is_unreachable_gets_a_503_to_retry_not_a_500()
    {
        var response = await gateway.KeyClient("inf_" + new string('a', 40)).ChatAsync("sim-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter.ShouldNotBeNull();
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("database_unavailable");
        error["type"]!.GetValue<string>().ShouldBe("server_error");
    }
}
