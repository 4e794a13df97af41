using Infery.Api.Gateway.Billing;
using Npgsql;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>Which failures close the billing gate: those after which no charge could be written, not one refused statement.</summary>
public sealed class BillingGateTests
{
    [Theory]
    [InlineData(PostgresErrorCodes.ConnectionFailure)]
    [InlineData(PostgresErrorCodes.AdminShutdown)]
    [InlineData(PostgresErrorCodes.CannotConnectNow)]
    [InlineData(PostgresErrorCodes.TooManyConnections)]
    [InlineData(PostgresErrorCodes.ReadOnlySqlTransaction)]
    [InlineData(PostgresErrorCodes.DiskFull)]
    public void A_database_that_cannot_take_writes_is_an_outage(string sqlState) =>
        BillingGate.IsOutage(Refused(sqlState)).ShouldBeTrue();

    [Theory]
    [InlineData(PostgresErrorCodes.UniqueViolation)]
    [InlineData(PostgresErrorCodes.SerializationFailure)]
    [InlineData(PostgresErrorCodes.UndefinedTable)]
    public void A_statement_refused_on_its_own_is_not(string sqlState) =>
        BillingGate.IsOutage(Refused(sqlState)).ShouldBeFalse();

    [Fact]
    public void A_lost_connection_or_a_timeout_is_an_outage()
    {
        BillingGate.IsOutage(new NpgsqlException("connection lost", new IOException("reset"))).ShouldBeTrue();
        BillingGate.IsOutage(new TimeoutException()).ShouldBeTrue();
        BillingGate.IsOutage(new InvalidOperationException()).ShouldBeFalse();
    }

    private static PostgresException Refused(string sqlState) => new("refused", "ERROR", "ERROR", sqlState);
}
