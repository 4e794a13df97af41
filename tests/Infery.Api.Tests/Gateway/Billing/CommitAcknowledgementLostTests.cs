using System.Net;
using System.Net.Http.Json;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Npgsql;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>A gateway that reaches its database through a proxy the test can cut.</summary>
public sealed class ProxiedGateway : GatewayFactory
{
    public CuttableTcpProxy Proxy { get; private set; } = null!;

    protected override string GatewayConnectionString(string database)
    {
        var builder = new NpgsqlConnectionStringBuilder(database);
        Proxy ??= new CuttableTcpProxy(builder.Host!, builder.Port);
        builder.Host = "127.0.0.1";
        builder.Port = Proxy.Port;
        return builder.ConnectionString;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Proxy?.Dispose();
    }
}

/// <summary>
/// The connection breaks while the charge is being committed, and the commit goes through anyway: the client gets
/// its completion and cost, not a "retry" that would charge it twice.
/// </summary>
public sealed class CommitAcknowledgementLostTests(ProxiedGateway gateway) : IClassFixture<ProxiedGateway>
{
    [Fact]
    public async Task A_charge_committed_on_a_connection_that_broke_is_answered_as_charged_and_charged_once()
    {
        const string requestId = "req_commit_acknowledgement_lost";
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        var balanceBefore = await ledger.BalanceAsync(workspace);
        await SlowCommitOfAsync(requestId);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "sim-chat", messages = new[] { new { role = "user", content = "Hello" } } }),
        };
        request.Headers.Add("x-request-id", requestId);

        var answer = gateway.KeyClient(key).SendAsync(request);
        gateway.Proxy.Cut(await CommittingBackendPortAsync()).ShouldBeTrue();
        var response = await answer;

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var charged = await ledger.ChargesAsync(workspace);
        charged.ShouldHaveSingleItem().RequestId.ShouldBe(requestId);
        response.Header("x-credits-used").ShouldBe(Infery.Domain.Credits.MicroCredits.Format(charged[0].Amount));
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore - charged[0].Amount);
        (await gateway.ReservedAsync(key)).ShouldBe("0.000000");
    }

    /// <summary>The request's charge, once inserted, holds its transaction open at commit for a second.</summary>
    private async Task SlowCommitOfAsync(string requestId)
    {
        await using var conn = new NpgsqlConnection(gateway.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"""
            create or replace function slow_commit() returns trigger language plpgsql as
              $$ begin perform pg_sleep(1); return null; end $$;
            create constraint trigger slow_commit after insert on events deferrable initially deferred for each row
              when (new.type = 'credits.charged.v1' and new.data->>'request_id' = '{requestId}') execute function slow_commit();
            """, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The client port, as the database sees it, of the backend sleeping in its commit.</summary>
    private async Task<int> CommittingBackendPortAsync()
    {
        await using var conn = new NpgsqlConnection(gateway.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select client_port from pg_stat_activity where wait_event = 'PgSleep' and datname = current_database()", conn);
        for (var i = 0; i < 500; i++)
        {
            if (await cmd.ExecuteScalarAsync() is int port)
                return port;
            await Task.Delay(10);
        }
        throw new TimeoutException("no commit was held open");
    }
}
