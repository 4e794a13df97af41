using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Infrastructure;

/// <summary>
/// The runtime settings .NET reads only from the environment are given the same way by every launcher we
/// ship, and the benchmark measures the gateway as they start it.
/// </summary>
public sealed class ShippedRuntimeTests
{
    private const string Gen0Budget = "0x4000000";

    [Fact]
    public void Run_sh_sets_the_young_generation_budget_unless_one_is_given()
    {
        File.ReadAllText(Path.Combine(Repository.Root, "run.sh"))
            .ShouldContain($"export DOTNET_GCgen0size=${{DOTNET_GCgen0size:-{Gen0Budget}}}");
    }

    [Fact]
    public void The_container_image_sets_the_same_budget()
    {
        File.ReadAllText(Path.Combine(Repository.Root, "Dockerfile")).ShouldContain($"ENV DOTNET_GCgen0size={Gen0Budget}");
    }

    [Fact]
    public void The_benchmark_starts_the_gateway_with_the_same_budget()
    {
        File.ReadAllText(Path.Combine(Repository.Root, "bench", "Infery.Bench", "Gateway", "ProxyProcess.cs"))
            .ShouldContain($"ShippedGen0Size = \"{Gen0Budget}\"");
    }
}
