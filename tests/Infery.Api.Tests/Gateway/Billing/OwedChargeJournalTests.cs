using Infery.Api.Gateway.Billing;
using Infery.Domain;
using Infery.Domain.Credits;
using Infery.EventStore;

namespace Infery.Api.Tests.Gateway.Billing;

public sealed class OwedChargeJournalTests : IDisposable
{
    private static readonly EventTypeRegistry Registry = new EventTypeRegistry(DomainEventsJson.Default).RegisterAll(typeof(CreditsCharged).Assembly);
    private readonly string path = Path.Combine(Path.GetTempPath(), $"infery-journal-test-{Guid.NewGuid():N}.jsonl");

    public void Dispose() => File.Delete(path);

    private static OwedCharge Charge(string requestId, long amount) => new(
        $"request-{requestId}", requestId, "ws_1", "key_1",
        [new CreditsCharged("ws_1", requestId, amount, "key_1", "sim-chat", DateTimeOffset.UnixEpoch)],
        new EventMetadata(RequestId: requestId, WorkspaceId: "ws_1", Actor: "key_1"), reservation: null, amount);

    [Fact]
    public void Charges_owed_and_not_settled_are_read_back_whole_in_the_order_they_were_owed()
    {
        using (var journal = new OwedChargeJournal(path, Registry))
        {
            journal.Owe(Charge("req_a", 10));
            journal.Owe(Charge("req_b", 20));
            journal.Owe(Charge("req_c", 30));
            journal.Settle("request-req_b", nothingOwed: false);
        }

        using var reopened = new OwedChargeJournal(path, Registry);
        var owed = reopened.ReadOwed();

        owed.Select(c => (c.StreamId, c.RequestId, c.WorkspaceId, c.KeyId, c.Amount)).ShouldBe(
            [("request-req_a", "req_a", "ws_1", "key_1", 10L), ("request-req_c", "req_c", "ws_1", "key_1", 30L)]);
        owed[0].Events.ShouldHaveSingleItem().ShouldBe(new CreditsCharged("ws_1", "req_a", 10, "key_1", "sim-chat", DateTimeOffset.UnixEpoch));
        owed[0].Metadata.ShouldBe(new EventMetadata(RequestId: "req_a", WorkspaceId: "ws_1", Actor: "key_1"));
        owed[0].Reservation.ShouldBeNull();
    }

    [Fact]
    public void A_line_cut_short_by_a_crash_is_passed_over_and_the_journal_is_emptied_when_nothing_is_owed()
    {
        using (var journal = new OwedChargeJournal(path, Registry))
            journal.Owe(Charge("req_a", 10));
        File.AppendAllText(path, """{"owed":{"stream_id":"request-req_torn","requ""");

        using (var reopened = new OwedChargeJournal(path, Registry))
        {
            reopened.ReadOwed().ShouldHaveSingleItem().RequestId.ShouldBe("req_a");
            reopened.Owe(Charge("req_b", 20));
        }

        using var third = new OwedChargeJournal(path, Registry);
        third.ReadOwed().Select(c => c.RequestId).ShouldBe(["req_a", "req_b"]);
        third.Settle("request-req_a", nothingOwed: false);
        third.Settle("request-req_b", nothingOwed: true);
        new FileInfo(path).Length.ShouldBe(0);
        third.ReadOwed().ShouldBeEmpty();
    }

    [Fact]
    public void A_second_gateway_on_the_same_journal_is_refused_with_what_to_set()
    {
        using var journal = new OwedChargeJournal(path, Registry);

        Should.Throw<InvalidOperationException>(() => new OwedChargeJournal(path, Registry)).Message.ShouldContain("OwedCharges__JournalPath");
    }
}
