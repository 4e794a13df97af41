using Infery.Domain.ApiKeys;
using Infery.Domain.Workspaces;

namespace Infery.Domain.Tests.ApiKeys;

public sealed class ApiKeyTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static readonly WorkspaceState Workspace = new[]
    {
        (object)new WorkspaceCreated("ws_1", "Acme", null, Now),
        new MemberAdded("ws_1", "mem_1", "ada@acme.test", "Ada", Now),
    }.Aggregate(WorkspaceState.Initial, Infery.Domain.Workspaces.Workspace.Evolve);

    private static IssueApiKey Issue(string? preset = null, int? rpm = null, string? member = null) =>
        new("key_1", "ci", "ab12", "inf_abcd1234", preset, rpm, member);

    [Theory]
    [InlineData("free", 30)]
    [InlineData("standard", 120)]
    [InlineData("pro", 400)]
    [InlineData(null, 120)]
    public void A_preset_names_its_rate_limit(string? preset, int rpm)
    {
        var events = ApiKey.Decide(ApiKeyState.Initial, Workspace, Issue(preset), Now);

        events.ShouldBe([new ApiKeyIssued("key_1", "ws_1", "ci", "ab12", "inf_abcd1234", preset ?? "standard", rpm, null, Now)]);
    }

    [Fact]
    public void A_custom_rpm_makes_a_custom_preset_and_the_member_is_kept()
    {
        var issued = (ApiKeyIssued)ApiKey.Decide(ApiKeyState.Initial, Workspace, Issue(rpm: 1_000, member: "mem_1"), Now).Single();

        issued.Preset.ShouldBe("custom");
        issued.Rpm.ShouldBe(1_000);
        issued.MemberId.ShouldBe("mem_1");
    }

    [Theory]
    [InlineData("gold", null, "preset")]
    [InlineData(null, 0, "rpm")]
    [InlineData(null, 1_000_000, "rpm")]
    [InlineData("free", 50, "rpm")]
    public void Unknown_presets_and_impossible_rpms_are_refused(string? preset, int? rpm, string param)
    {
        Should.Throw<DomainException>(() => ApiKey.Decide(ApiKeyState.Initial, Workspace, Issue(preset, rpm), Now)).Param.ShouldBe(param);
    }

    [Fact]
    public void A_key_for_a_member_of_another_workspace_is_refused()
    {
        Should.Throw<DomainException>(() => ApiKey.Decide(ApiKeyState.Initial, Workspace, Issue(member: "mem_other"), Now))
            .Code.ShouldBe("member_not_found");
    }

    [Fact]
    public void A_key_in_a_workspace_that_does_not_exist_is_refused()
    {
        Should.Throw<DomainException>(() => ApiKey.Decide(ApiKeyState.Initial, WorkspaceState.Initial, Issue(), Now))
            .Code.ShouldBe("workspace_not_found");
    }

    [Fact]
    public void Revoking_records_the_hash_once_and_again_is_a_no_op()
    {
        var issued = ApiKey.Decide(ApiKeyState.Initial, Workspace, Issue(), Now);
        var state = issued.Aggregate(ApiKeyState.Initial, ApiKey.Evolve);

        var revoked = ApiKey.Decide(state, WorkspaceState.Initial, new RevokeApiKey(), Now);
        revoked.ShouldBe([new ApiKeyRevoked("key_1", "ws_1", "ab12", Now)]);

        var after = revoked.Aggregate(state, ApiKey.Evolve);
        after.Revoked.ShouldBeTrue();
        ApiKey.Decide(after, WorkspaceState.Initial, new RevokeApiKey(), Now).ShouldBeEmpty();
    }

    [Fact]
    public void Revoking_a_key_that_was_never_issued_is_refused()
    {
        Should.Throw<DomainException>(() => ApiKey.Decide(ApiKeyState.Initial, WorkspaceState.Initial, new RevokeApiKey(), Now))
            .Code.ShouldBe("api_key_not_found");
    }
}
