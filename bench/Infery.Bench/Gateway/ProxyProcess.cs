using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Infery.Bench.Gateway;

/// <summary>
/// A proxy under measurement, started as a process of its own and read from the outside (/proc) for CPU time and
/// memory: the gateway as it ships (the built Infery.Api, configured only through environment variables, with
/// admin calls to set up its keys), or the bare forwarder the report compares it with.
/// </summary>
public sealed class ProxyProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly Queue<string> outputTail = new();
    private readonly string name;
    private readonly string? owedChargesJournal;

    private ProxyProcess(Process process, Uri baseUrl, string adminToken, string name, string? owedChargesJournal)
    {
        this.process = process;
        this.name = name;
        this.owedChargesJournal = owedChargesJournal;
        BaseUrl = baseUrl;
        AdminToken = adminToken;
    }

    public Uri BaseUrl { get; }

    public string AdminToken { get; }

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>The process's last lines of output, for when it fails.</summary>
    public string OutputTail
    {
        get
        {
            lock (outputTail)
                return string.Join('\n', outputTail);
        }
    }

    public static string DefaultAssemblyPath(string repositoryRoot) =>
        Path.Combine(repositoryRoot, "src", "Infery.Api", "bin", BuildConfiguration, "net10.0", "Infery.Api.dll");

    /// <summary>The youngest generation's budget that run.sh and the Dockerfile give the gateway, unless one is set.</summary>
    private const string ShippedGen0Size = "0x4000000";

    /// <summary>The budget the gateway gets: from --gateway-env, else from this environment, else the shipped one.</summary>
    public static string Gen0Size(IReadOnlyDictionary<string, string> extraEnvironment) =>
        extraEnvironment.GetValueOrDefault("DOTNET_GCgen0size") ?? Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? ShippedGen0Size;

    /// <summary>The configuration this benchmark was built in; the gateway next to it is built the same way.</summary>
    public const string BuildConfiguration =
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    public static Task<ProxyProcess> StartAsync(
        string assemblyPath, string connectionString, string catalogPath, IReadOnlyDictionary<string, string> extraEnvironment)
    {
        // The process starts in another directory, so a path relative to this one must not reach it as it is.
        assemblyPath = Path.GetFullPath(assemblyPath);
        if (!File.Exists(assemblyPath))
            throw new InvalidOperationException($"the gateway is not built at {assemblyPath}; build the solution in {BuildConfiguration} first");

        var baseUrl = FreeUrl();
        var adminToken = $"adm_bench_{Guid.NewGuid():N}";
        var psi = Dotnet(assemblyPath, ["--urls", baseUrl.ToString().TrimEnd('/')], Gen0Size(extraEnvironment));
        psi.Environment["INFERY_DB"] = connectionString;
        psi.Environment["INFERY_CATALOG"] = catalogPath;
        psi.Environment["INFERY_ADMIN_TOKEN"] = adminToken;
        psi.Environment["INFERY_SEED_DEMO"] = "0";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // A journal of its own: two gateways started from one build would otherwise share the one beside it.
        var owedChargesJournal = Path.Combine(Path.GetTempPath(), $"infery-bench-owed-{Guid.NewGuid():N}.jsonl");
        psi.Environment["OwedCharges__JournalPath"] = owedChargesJournal;
        foreach (var (name, value) in extraEnvironment)
            psi.Environment[name] = value;
        return LaunchAsync(psi, baseUrl, adminToken, "the gateway", owedChargesJournal);
    }

    /// <summary>
    /// The <see cref="BareForwarder"/> from this benchmark's own assembly, in front of <paramref name="upstream"/>,
    /// with the gateway's young-generation budget and nothing else of <c>--gateway-env</c>.
    /// </summary>
    public static Task<ProxyProcess> StartBareForwarderAsync(Uri upstream, IReadOnlyDictionary<string, string> extraEnvironment)
    {
        var baseUrl = FreeUrl();
        var psi = Dotnet(typeof(BareForwarder).Assembly.Location,
            ["forwarder", "--upstream", upstream.ToString(), "--urls", baseUrl.ToString().TrimEnd('/')], Gen0Size(extraEnvironment));
        return LaunchAsync(psi, baseUrl, adminToken: "", "the bare forwarder", owedChargesJournal: null);
    }

    private static ProcessStartInfo Dotnet(string assemblyPath, string[] args, string gen0Size)
    {
        var psi = new ProcessStartInfo("dotnet", [assemblyPath, .. args])
        {
            WorkingDirectory = Path.GetDirectoryName(assemblyPath)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // As run.sh and the Dockerfile start the gateway (see DOTNET_GCgen0size in the README).
        psi.Environment["DOTNET_GCgen0size"] = gen0Size;
        return psi;
    }

    private static async Task<ProxyProcess> LaunchAsync(ProcessStartInfo psi, Uri baseUrl, string adminToken, string name, string? owedChargesJournal)
    {
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {name}");
        var started = new ProxyProcess(process, baseUrl, adminToken, name, owedChargesJournal);
        process.OutputDataReceived += (_, e) => started.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => started.Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            await started.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
        return started;
    }

    private void Remember(string? line)
    {
        if (line is null)
            return;
        lock (outputTail)
        {
            outputTail.Enqueue(line);
            while (outputTail.Count > 40)
                outputTail.Dequeue();
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan limit)
    {
        using var client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{name} exited with {process.ExitCode} while starting:\n{OutputTail}");
            try
            {
                using var response = await client.GetAsync("health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException($"{name} was not ready within {limit.TotalSeconds:0} s:\n{OutputTail}");
    }

    /// <summary>Creates a workspace through the admin API, grants it credits and issues <paramref name="keyCount"/> keys at the given rpm.</summary>
    public async Task<(string WorkspaceId, string[] Keys)> CreateWorkspaceWithKeysAsync(decimal credits, int keyCount, int rpm)
    {
        using var admin = new HttpClient { BaseAddress = BaseUrl };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        var workspace = await PostAsync(admin, "admin/v1/workspaces", new { name = "benchmark" });
        var id = workspace["id"]!.GetValue<string>();
        await PostAsync(admin, $"admin/v1/workspaces/{id}/credits", new { amount = credits, reason = "benchmark credits" });
        var keys = new string[keyCount];
        for (var i = 0; i < keyCount; i++)
            keys[i] = (await PostAsync(admin, $"admin/v1/workspaces/{id}/keys", new { name = $"benchmark key {i}", rpm }))["key"]!.GetValue<string>();
        return (id, keys);
    }

    private static async Task<JsonObject> PostAsync(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST /{path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public TimeSpan CpuTime() => ProcessCpu.Of(process.Id);

    /// <summary>A field of /proc/&lt;pid&gt;/status in kB, e.g. VmHWM (peak resident set) or VmRSS.</summary>
    public long StatusKilobytes(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>Number of threads the process has, from /proc/&lt;pid&gt;/status.</summary>
    public long Threads() => StatusKilobytes("Threads");

    private static Uri FreeUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
        // One that holds charges stays, for whoever reads the run's failure.
        if (owedChargesJournal is not null && new FileInfo(owedChargesJournal) is { Exists: true, Length: 0 })
            File.Delete(owedChargesJournal);
    }
}
