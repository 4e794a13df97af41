using Infery.Domain.Credits;
using Infery.Domain.Requests;

namespace Infery.Domain.Tests.Credits;

public sealed class ChargeTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static readonly RequestServed Served = new("req_1", "ws_1", "key_1", null, "chat.completions", "sim-chat", "sim-chat",
        "simulator", 10, 0, 0, 20, 5, 200, false, "completed", Now);

    [Fact]
    public void A_charge_comes_with_the_request_it_is_for()
    {
        var events = Charge.Decide(Served, cost: 420, reserved: 1_000);

        events.ShouldBe([Served, new CreditsCharged("ws_1", "req_1", 420, "key_1", "sim-chat", Now)]);
    }

    [Fact]
    public void A_charge_never_exceeds_what_was_reserved()
    {
        var charged = (CreditsCharged)Charge.Decide(Served, cost: 5_000, reserved: 1_000)[^1];

        charged.Amount.ShouldBe(1_000);
        charged.Uncharged.ShouldBe(4_000);
    }

    [Fact]
    public void A_charge_recorded_before_the_uncharged_part_was_reads_as_none_left_uncharged()
    {
        var stored = """{"workspace_id":"ws_1","request_id":"req_1","amount":420,"key_id":"key_1","model":"sim-chat","at":"2026-11-22T12:00:00+00:00"}""";

        var charged = System.Text.Json.JsonSerializer.Deserialize(stored, DomainEventsJson.Default.CreditsCharged)!;

        charged.ShouldBe(new CreditsCharged("ws_1", "req_1", 420, "key_1", "sim-chat", Now));
    }

    [Fact]
    public void A_negative_cost_is_refused()
    {
        Should.Throw<DomainException>(() => Charge.Decide(Served, cost: -1, reserved: 1_000)).Code.ShouldBe("invalid_amount");
    }

    [Theory]
    [InlineData(0, "0.000000")]
    [InlineData(420, "0.000420")]
    [InlineData(12_500_000, "12.500000")]
    [InlineData(-3, "-0.000003")]
    public void Micro_credits_show_as_six_decimal_places(long micro, string shown)
    {
        MicroCredits.Format(micro).ShouldBe(shown);
    }

    [Theory]
    [InlineData("12.5", 12_500_000L)]
    [InlineData("0.000001", 1L)]
    public void Credits_parse_exactly(string credits, long micro)
    {
        MicroCredits.TryParse(decimal.Parse(credits, System.Globalization.CultureInfo.InvariantCulture), out var parsed).ShouldBeTrue();
        parsed.ShouldBe(micro);
    }

    [Fact]
    public void More_than_six_decimals_do_not_parse()
    {
        MicroCredits.TryParse(0.0000001m, out _).ShouldBeFalse();
    }

    [Theory]
    [InlineData("100000000000000000000000")]
    [InlineData("-100000000000000000000000")]
    [InlineData("9223372036855")]
    public void Amounts_beyond_what_micro_credits_can_hold_do_not_parse(string credits)
    {
        MicroCredits.TryParse(decimal.Parse(credits, System.Globalization.CultureInfo.InvariantCulture), out _).ShouldBeFalse();
    }

    [Fact]
    public void Costs_round_up_once_over_the_sum()
    {
        // 3 tokens at 0.5 credits per million = 1.5 micro-credits, charged as 2.
        MicroCredits.FromScaled(MicroCredits.Scaled(3, 500_000)).ShouldBe(2);
        MicroCredits.FromScaled(0).ShouldBe(0);
    }
}
