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
            journal.Settle("request-req_a", nothingOwed: false);
            journal.Owe(Charge("req_c", 30));
            journal.Owe(Charge("req_d", 40));
            journal.Settle("request-req_c", nothingOwed: false);
        }

        using var reopened = new OwedChargeJournal(path, Registry);
        var (owed, unreadable) = reopened.ReadOwed();

        owed.Select(c => (c.StreamId, c.RequestId, c.WorkspaceId, c.KeyId, c.Amount)).ShouldBe(
            [("request-req_b", "req_b", "ws_1", "key_1", 20L), ("request-req_d", "req_d", "ws_1", "key_1", 40L)]);
        owed[0].Events.ShouldHaveSingleItem().ShouldBe(new CreditsCharged("ws_1", "req_b", 20, "key_1", "sim-chat", DateTimeOffset.UnixEpoch));
        owed[0].Metadata.ShouldBe(new EventMetadata(RequestId: "req_b", WorkspaceId: "ws_1", Actor: "key_1"));
        owed[0].Reservation.ShouldBeNull();
        owed.ShouldAllBe(c => c.Journaled);
        unreadable.ShouldBeEmpty();
    }

    [Fact]
    public void A_charge_this_version_cannot_read_back_is_handed_over_as_its_line_not_dropped()
    {
        const string fromANewerVersion = """{"owed":{"stream_id":"request-req_x","request_id":"req_x","workspace_id":"ws_1","key_id":"key_1","amount":5,"metadata":{},"events":[{"type":"credits.charged.v9","data":{}}]}}""";
        File.WriteAllText(path, fromANewerVersion + "\n");

        using var journal = new OwedChargeJournal(path, Registry);
        var (owed, unreadable) = journal.ReadOwed();

        owed.ShouldBeEmpty();
        unreadable.ShouldBe([fromANewerVersion]);
    }

    [Fact]
    public void A_line_cut_short_by_a_crash_is_passed_over_and_the_journal_is_emptied_when_nothing_is_owed()
    {
        using (var journal = new OwedChargeJournal(path, Registry))
            journal.Owe(Charge("req_a", 10));
        File.AppendAllText(path, """{"owed":{"stream_id":"request-req_torn","requ""");

        using (var reopened = new OwedChargeJournal(path, Registry))
        {
            reopened.ReadOwed().Owed.ShouldHaveSingleItem().RequestId.ShouldBe("req_a");
            reopened.Owe(Charge("req_b", 20));
        }

        using var third = new OwedChargeJournal(path, Registry);
        third.ReadOwed().Owed.Select(c => c.RequestId).ShouldBe(["req_a", "req_b"]);
        third.Settle("request-req_a", nothingOwed: false);
        third.Settle("request-req_b", nothingOwed: true);
        new FileInfo(path).Length.ShouldBe(0);
        third.ReadOwed().Owed.ShouldBeEmpty();
    }

    [Fact]
    public void A_second_gateway_on_the_same_journal_is_refused_with_what_to_set()
    {
        using var journal = new OwedChargeJournal(path, Registry);

        var refused = Should.Throw<InvalidOperationException>(() => new OwedChargeJournal(path, Registry));
        refused.Message.ShouldContain("in use by another gateway");
        refused.Message.ShouldContain("OwedCharges__JournalPath");
    }
}
