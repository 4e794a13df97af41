using Infery.Domain.Credits;
using Infery.Domain.Workspaces;

namespace Infery.Domain.Tests.Workspaces;

/// <summary>Given events, when a command, then events — or the refusal.</summary>
public sealed class WorkspaceTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static WorkspaceState Given(params object[] events) => events.Aggregate(WorkspaceState.Initial, Workspace.Evolve);

    private static WorkspaceState Existing() => Given(new WorkspaceCreated("ws_1", "Acme", null, Now));

    [Fact]
    public void Creating_a_new_workspace_records_it_with_a_trimmed_name()
    {
        var events = Workspace.Decide(WorkspaceState.Initial, new CreateWorkspace("ws_1", "  Acme ", 1_000), Now);

        events.ShouldBe([new WorkspaceCreated("ws_1", "Acme", 1_000, Now)]);
    }

    [Fact]
    public void Creating_a_workspace_twice_is_refused()
    {
        Should.Throw<DomainException>(() => Workspace.Decide(Existing(), new CreateWorkspace("ws_1", "Again", null), Now))
            .Code.ShouldBe("workspace_exists");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void A_blank_name_is_refused(string name)
    {
        Should.Throw<DomainException>(() => Workspace.Decide(WorkspaceState.Initial, new CreateWorkspace("ws_1", name, null), Now))
            .Param.ShouldBe("name");
    }

    [Fact]
    public void A_negative_storage_limit_is_refused()
    {
        Should.Throw<DomainException>(() => Workspace.Decide(WorkspaceState.Initial, new CreateWorkspace("ws_1", "Acme", -1), Now))
            .Code.ShouldBe("invalid_storage_limit");
    }

    [Fact]
    public void Commands_on_a_workspace_that_does_not_exist_are_refused()
    {
        Should.Throw<DomainException>(() => Workspace.Decide(WorkspaceState.Initial, new GrantCredits(5, "top-up", "ops"), Now))
            .Code.ShouldBe("workspace_not_found");
    }

    [Fact]
    public void Granting_credits_records_amount_reason_and_who()
    {
        var events = Workspace.Decide(Existing(), new GrantCredits(25 * MicroCredits.PerCredit, " top-up ", "ops@acme"), Now);

        events.ShouldBe([new CreditsGranted("ws_1", 25_000_000, "top-up", "ops@acme", Now)]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(MicroCredits.MaxGrant + 1)]
    public void A_grant_of_nothing_negative_or_absurd_is_refused(long amount)
    {
        Should.Throw<DomainException>(() => Workspace.Decide(Existing(), new GrantCredits(amount, "top-up", "ops"), Now))
            .Code.ShouldBe("invalid_amount");
    }

    [Fact]
    public void A_grant_without_a_reason_is_refused()
    {
        Should.Throw<DomainException>(() => Workspace.Decide(Existing(), new GrantCredits(5, " ", "ops"), Now))
            .Param.ShouldBe("reason");
    }

    [Fact]
    public void A_refund_records_the_request_it_is_for()
    {
        var events = Workspace.Decide(Existing(), new RefundCredits(1_500, "bad answer", "support", "req_9"), Now);

        events.ShouldBe([new CreditsRefunded("ws_1", 1_500, "bad answer", "support", "req_9", Now)]);
    }

    [Fact]
    public void A_negative_refund_is_refused()
    {
        Should.Throw<DomainException>(() => Workspace.Decide(Existing(), new RefundCredits(-5, "oops", "support", null), Now))
            .Code.ShouldBe("invalid_amount");
    }

    [Fact]
    public void Members_are_added_once_per_email()
    {
        var state = Given(new WorkspaceCreated("ws_1", "Acme", null, Now), new MemberAdded("ws_1", "mem_1", "ada@acme.test", "Ada", Now));

        var events = Workspace.Decide(state, new AddMember("mem_2", "bob@acme.test", "Bob"), Now);
        events.ShouldBe([new MemberAdded("ws_1", "mem_2", "bob@acme.test", "Bob", Now)]);

        Should.Throw<DomainException>(() => Workspace.Decide(state, new AddMember("mem_3", "ADA@acme.test", "Ada again"), Now))
            .Code.ShouldBe("member_exists");
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("@acme.test")]
    [InlineData("ada@")]
    public void A_member_needs_an_email_address(string email)
    {
        Should.Throw<DomainException>(() => Workspace.Decide(Existing(), new AddMember("mem_1", email, "Ada"), Now))
            .Param.ShouldBe("email");
    }

    [Fact]
    public void Renames_and_limits_evolve_the_state()
    {
        var state = Given(
            new WorkspaceCreated("ws_1", "Acme", null, Now),
            new WorkspaceRenamed("ws_1", "Acme Ltd", Now),
            new StorageLimitSet("ws_1", 5_000, Now));

        state.Name.ShouldBe("Acme Ltd");
        state.StorageLimitBytes.ShouldBe(5_000);
        Workspace.Decide(state, new RenameWorkspace("New"), Now).ShouldBe([new WorkspaceRenamed("ws_1", "New", Now)]);
    }
}
