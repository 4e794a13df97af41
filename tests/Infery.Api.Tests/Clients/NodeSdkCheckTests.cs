using System.Diagnostics;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Clients;

/// <summary>
/// The official openai Node SDK against the gateway on a real loopback port: clients/node/check.mjs makes the
/// basic calls a migrating user would and exits non-zero on any surprise.
/// </summary>
public sealed class NodeSdkCheckTests(LoopbackGateway gateway) : IClassFixture<LoopbackGateway>
{

    [Fact]
    public async Task The_node_check_passes()
    {
        var clientDirectory = Path.Combine(Repository.Root, "clients", "node");
        if (!Directory.Exists(Path.Combine(clientDirectory, "node_modules")))
            await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], clientDirectory, new Dictionary<string, string>(), TimeSpan.FromMinutes(5));
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 10);

        await RunAsync("node", ["check.mjs"], clientDirectory, new Dictionary<string, string>
        {
            ["INFERY_BASE_URL"] = new Uri(gateway.BaseAddress, "/v1").ToString(),
            ["INFERY_API_KEY"] = key,
        }, TimeSpan.FromMinutes(2));
    }

    private static async Task RunAsync(string program, string[] arguments, string directory, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}:\n{await output}\n{await errors}");
        }
        process.ExitCode.ShouldBe(0, $"{program} {string.Join(' ', arguments)} failed:\n{await output}\n{await errors}");
    }
}
