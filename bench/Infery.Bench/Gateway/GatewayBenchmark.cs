using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Npgsql;

namespace Infery.Bench.Gateway;

/// <summary>
/// The gateway's own cost: the same chat completions sent straight to a mock upstream, through a bare forwarder
/// (the least a proxy on the same stack does) and through the gateway (a separate process, billing every request
/// durably in PostgreSQL) to that same mock, in one run, in rotating one-second slices. Afterwards the events
/// table must hold one credits.charged.v1 event per request the gateway answered.
/// </summary>
public static class GatewayBenchmark
{
    public const string ModelSlug = "bench-model";
    private const int KeyCount = 16;
    private const int KeyRpm = 100_000;
    private const decimal GrantedCredits = 1_000_000m;
    private const string ChargedEvent = "credits.charged.v1";
    private static readonly TimeSpan SliceLength = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The first warm-up per series is this many times the per-level one: under load on two cores the
    /// gateway's tiered compilation takes about half a minute to settle.
    /// </summary>
    private const int FirstWarmUpFactor = 12;

    public static async Task<int> RunAsync(Arguments args)
    {
        var smoke = args.Flag("smoke");
        var seconds = args.Int("seconds") ?? (smoke ? 1 : 5);
        var callerLevels = args.IntList("concurrency") ?? (smoke ? [1, 16] : [1, 16, 64]);
        var rates = args.Text("rates") == "none" ? [] : args.IntList("rates") ?? (smoke ? [500] : [1000, 4000]);
        LoadShape[] shapes = [.. callerLevels.Select(LoadShape.Closed), .. rates.Select(LoadShape.Open)];
        var chunks = args.Int("chunks") ?? 20;
        var warmUpSeconds = args.Int("warmup") ?? (smoke ? 0 : 1);
        var gatewayPath = args.Text("gateway") ?? ProxyProcess.DefaultAssemblyPath(Machine.RepositoryRoot());
        var gatewayEnvironment = ParseEnvironment(args.Text("gateway-env"));
        // Another build or environment of the gateway in the same rotation: the only way to see a change smaller
        // than the machine's drift between runs.
        var baselinePath = args.Text("baseline");
        var baselineEnvironmentText = args.Text("baseline-env");
        var withBaseline = baselinePath is not null || baselineEnvironmentText is not null;
        var baselineEnvironment = baselineEnvironmentText is null ? gatewayEnvironment : ParseEnvironment(baselineEnvironmentText);
        var outPath = args.Text("out") ?? (smoke ? null : Path.Combine(Machine.RepositoryRoot(), "bench", "results", "latest.md"));
        args.RejectUnknown();
        var warmUp = TimeSpan.FromSeconds(warmUpSeconds);
        var loadAverage = Machine.LoadAverage();

        await using var database = await BenchDatabase.OpenAsync();
        var (gatewayDb, dropDatabase) = await CreateGatewayDatabaseAsync(database.ConnectionString);
        (string? baselineDb, Func<Task> dropBaselineDatabase) = withBaseline
            ? await CreateGatewayDatabaseAsync(database.ConnectionString)
            : (null, () => Task.CompletedTask);
        if (baselineDb == gatewayDb)
        {
            await dropDatabase();
            Console.Error.WriteLine("a baseline needs a database of its own, so that each gateway's charges can be counted");
            return 2;
        }
        var catalogPath = Path.Combine(Path.GetTempPath(), $"infery-bench-catalog-{Guid.NewGuid():N}.json");
        try
        {
            await using var mock = await MockUpstream.StartAsync(chunks);
            await File.WriteAllTextAsync(catalogPath, CatalogJson(mock.BaseUrl));

            Console.Error.WriteLine($"mock upstream on {mock.BaseUrl}; starting the gateway from {gatewayPath}");
            var chargesBefore = await CountChargesAsync(gatewayDb);
            var commitsBefore = await CommittedTransactionsAsync(gatewayDb);
            Run run;
            await using (var gateway = await ProxyProcess.StartAsync(gatewayPath, gatewayDb, catalogPath, gatewayEnvironment))
            await using (var forwarder = await ProxyProcess.StartBareForwarderAsync(mock.BaseUrl, gatewayEnvironment))
            await using (var baseline = withBaseline
                ? await ProxyProcess.StartAsync(baselinePath ?? gatewayPath, baselineDb!, catalogPath, baselineEnvironment)
                : null)
            {
                Console.Error.WriteLine($"gateway pid {gateway.Pid} on {gateway.BaseUrl}; bare forwarder pid {forwarder.Pid} on {forwarder.BaseUrl}" +
                    (baseline is null ? "" : $"; baseline pid {baseline.Pid} on {baseline.BaseUrl}"));
                var (_, keys) = await gateway.CreateWorkspaceWithKeysAsync(GrantedCredits, KeyCount, KeyRpm);
                var maxCallers = shapes.Max(shape => shape.MaxInFlight);
                using var direct = new ChatLoadClient(new Uri(mock.BaseUrl, "chat/completions"), keys, isGateway: false, maxCallers);
                using var bare = new ChatLoadClient(new Uri(forwarder.BaseUrl, "v1/chat/completions"), keys, isGateway: false, maxCallers);
                using var through = new ChatLoadClient(new Uri(gateway.BaseUrl, "v1/chat/completions"), keys, isGateway: true, maxCallers);
                using var throughBaseline = baseline is null ? null : new ChatLoadClient(new Uri(baseline.BaseUrl, "v1/chat/completions"),
                    (await baseline.CreateWorkspaceWithKeysAsync(GrantedCredits, KeyCount, KeyRpm)).Keys, isGateway: true, maxCallers);
                run = new Run(new Route(direct, null), new Route(bare, forwarder), new Route(through, gateway),
                    throughBaseline is null ? null : new Route(throughBaseline, baseline), database.ServerCpuTime);
                var startRss = gateway.StatusKilobytes("VmRSS");

                if (warmUp > TimeSpan.Zero)
                {
                    // Connection pools and JIT tiering, before anything is measured.
                    Console.Error.WriteLine("warming up");
                    await run.WarmUpAsync(LoadShape.Closed(Math.Min(16, callerLevels.Max())), TimeSpan.FromSeconds(FirstWarmUpFactor * warmUp.TotalSeconds));
                }
                foreach (var shape in shapes)
                    await run.MeasureLevelAsync(shape, warmUp, seconds);

                run.Memory = new MemoryUse(startRss, gateway.StatusKilobytes("VmRSS"), gateway.StatusKilobytes("VmHWM"), gateway.Threads());
                if (gateway.HasExited)
                    Console.Error.WriteLine($"the gateway exited during the run:\n{gateway.OutputTail}");
                if (forwarder.HasExited)
                    Console.Error.WriteLine($"the bare forwarder exited during the run:\n{forwarder.OutputTail}");
                if (baseline is { HasExited: true })
                    Console.Error.WriteLine($"the baseline gateway exited during the run:\n{baseline.OutputTail}");
            }

            var charged = await CountChargesAsync(gatewayDb) - chargesBefore;
            var baselineCharged = baselineDb is null ? 0 : await CountChargesAsync(baselineDb);
            // The gateway's backends flush their statistics as they exit; give them a moment.
            await Task.Delay(TimeSpan.FromSeconds(1));
            run.Commits = await CommittedTransactionsAsync(gatewayDb) - commitsBefore;
            var setup = await DescribeSetupAsync(gatewayDb, database.Origin, loadAverage, mock, warmUp, seconds, ProxyProcess.Gen0Size(gatewayEnvironment), rates);
            if (withBaseline)
                setup += $"\nBaseline: {baselinePath ?? "the same build"}" +
                    (baselineEnvironmentText is null ? ", the same environment" : $", environment \"{baselineEnvironmentText}\" instead of {(args.Text("gateway-env") is { } own ? $"\"{own}\"" : "none")}") +
                    $"; a second gateway process on a database of its own, measured in the same rotation.";
            var report = RenderReport(setup, run, charged, baselineCharged);
            Console.WriteLine(report);
            if (outPath is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
                await File.WriteAllTextAsync(outPath, report);
                Console.Error.WriteLine($"wrote {outPath}");
            }

            var gatewayFailed = run.GatewayFailed;
            var gatewaySucceeded = run.GatewaySucceeded;
            Console.Error.WriteLine($"gateway requests: {gatewaySucceeded:N0} succeeded, {gatewayFailed:N0} failed; {ChargedEvent} events: {charged:N0}");
            if (run.DirectFailed > 0)
                Console.Error.WriteLine($"warning: {run.DirectFailed:N0} direct requests failed (the load or the mock, not the gateway)");
            if (run.BareFailed > 0)
                Console.Error.WriteLine($"warning: {run.BareFailed:N0} requests through the bare forwarder failed (not the gateway); first: {run.FirstBareError}");
            if (gatewayFailed > 0)
                Console.Error.WriteLine($"FAILED: {gatewayFailed:N0} gateway requests failed; first: {run.FirstGatewayError}");
            if (charged != gatewaySucceeded)
                Console.Error.WriteLine($"FAILED: {gatewaySucceeded:N0} gateway requests succeeded but {charged:N0} charges are stored");
            var baselineSound = run.BaselineFailed == 0 && baselineCharged == run.BaselineSucceeded;
            if (withBaseline)
                Console.Error.WriteLine($"baseline requests: {run.BaselineSucceeded:N0} succeeded, {run.BaselineFailed:N0} failed; {ChargedEvent} events: {baselineCharged:N0}" +
                    (baselineSound ? "" : $" — FAILED; first error: {run.FirstBaselineError}"));
            return gatewayFailed == 0 && charged == gatewaySucceeded && baselineSound ? 0 : 1;
        }
        finally
        {
            File.Delete(catalogPath);
            await dropDatabase();
            await dropBaselineDatabase();
        }
    }

    private static Dictionary<string, string> ParseEnvironment(string? text)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in (text ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=');
            if (equals <= 0)
                throw new ArgumentException($"--gateway-env takes NAME=value pairs separated by ';', not '{pair}'");
            environment[pair[..equals]] = pair[(equals + 1)..];
        }
        return environment;
    }

    private static string CatalogJson(Uri mockBaseUrl) => $$"""
        {
          "providers": [ { "name": "mock", "kind": "openai", "base_url": "{{mockBaseUrl}}" } ],
          "models": [
            {
              "slug": "{{ModelSlug}}", "provider": "mock", "owned_by": "bench", "created": 1767225600,
              "context_window": 8192, "max_output_tokens": 256,
              "prices": { "input": 1, "output": 2 }
            }
          ]
        }
        """;

    /// <summary>A database of its own for the gateway, so the events table holds this run's charges only; dropped afterwards.</summary>
    private static async Task<(string ConnectionString, Func<Task> Drop)> CreateGatewayDatabaseAsync(string server)
    {
        var name = $"infery_bench_gw_{Guid.NewGuid():N}"[..32];
        try
        {
            await using var conn = new NpgsqlConnection(server);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database \"{name}\"", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (PostgresException e)
        {
            // No right to create databases: share the given one and count the charges this run adds.
            Console.Error.WriteLine($"could not create a database ({e.MessageText}); using the given one");
            return (server, () => Task.CompletedTask);
        }
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
        return (connectionString, async () =>
        {
            NpgsqlConnection.ClearAllPools();
            try
            {
                await using var conn = new NpgsqlConnection(server);
                await conn.OpenAsync();
                await using var cmd = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", conn);
                await cmd.ExecuteNonQueryAsync();
            }
            catch (NpgsqlException e)
            {
                Console.Error.WriteLine($"could not drop database {name}: {e.Message}");
            }
        });
    }

    private static async Task<long> CountChargesAsync(string connectionString)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var exists = new NpgsqlCommand("select to_regclass('events') is not null", conn);
        if (!(bool)(await exists.ExecuteScalarAsync())!)
            return 0;
        await using var cmd = new NpgsqlCommand("select count(*) from events where type = $1", conn);
        cmd.Parameters.AddWithValue(ChargedEvent);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Transactions committed in the database so far (pg_stat_database), to see how many requests each commit carries.</summary>
    private static async Task<long> CommittedTransactionsAsync(string connectionString)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select xact_commit from pg_stat_database where datname = current_database()", conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task<string> DescribeSetupAsync(
        string connectionString, string origin, string loadAverage, MockUpstream mock, TimeSpan warmUp, int seconds, string gen0Size, int[] rates)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "select current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        var warmUpText = warmUp > TimeSpan.Zero
            ? $" after {FirstWarmUpFactor * warmUp.TotalSeconds:0} s of warm-up per series at 16 callers and {warmUp.TotalSeconds:0} s per series and level"
            : "";
        var openLoopText = rates.Length > 0
            ? $"; at a fixed rate, requests start on a schedule whether or not earlier ones have finished (open loop, at most {LoadShape.OpenLoopSlots} in flight), kept by a thread that wakes about every millisecond, latency counted from each request's start"
            : "";
        return string.Create(CultureInfo.InvariantCulture, $"""
            {DateTime.UtcNow:yyyy-MM-dd} · {Environment.ProcessorCount} CPU cores{loadAverage} · {RuntimeInformation.OSDescription} · .NET {Environment.Version} · gateway built {ProxyProcess.BuildConfiguration}, workstation GC, DOTNET_GCgen0size={gen0Size}
            PostgreSQL {reader.GetString(0)} ({origin}) · fsync={reader.GetString(1)} · synchronous_commit={reader.GetString(2)} — every gateway answer waits for its charge to be committed
            Mock upstream (Kestrel, same machine): non-streaming {mock.CompletionBytes} B; streaming {mock.ChunkCount} content chunks + usage chunk + [DONE] ({mock.StreamBytes} B), each flushed.
            Bare hop: a forwarder on the gateway's stack, a process of its own (Kestrel in, the body passed to HttpClient, the answer passed back as it arrives; no parsing, key or billing): what any proxy here pays before doing its own work.
            {seconds} s per series and level{warmUpText}, in 1 s slices rotating between direct, bare hop and gateway; closed-loop callers over HttpClient (SocketsHttpHandler){openLoopText}; {KeyCount} keys at {KeyRpm:N0} rpm each.
            Load generator, mock, bare forwarder, gateway and PostgreSQL all share the {Environment.ProcessorCount} cores.
            """);
    }

    private static string RenderReport(string setup, Run run, long charged, long baselineCharged)
    {
        var md = new StringBuilder();
        md.AppendLine("# Gateway overhead: through the gateway vs straight to the upstream").AppendLine();
        foreach (var line in setup.Split('\n'))
            md.AppendLine(line.TrimEnd() + "  ");
        md.AppendLine();

        var closedLoop = run.Levels.Where(level => !level.Shape.IsOpen).ToList();
        if (closedLoop.Count > 0)
            AppendLevels(md, closedLoop, "##", "Callers");
        var openLoop = run.Levels.Where(level => level.Shape.IsOpen).ToList();
        if (openLoop.Count > 0)
        {
            md.AppendLine("## At a fixed arrival rate").AppendLine();
            md.AppendLine("Requests are sent at the rate in the first column, spread evenly, however fast they are answered: " +
                "the latency is what a request meets at that load, without the queue that closed-loop callers keep full. Requests/s is what was answered.");
            md.AppendLine();
            AppendLevels(md, openLoop, "###", "Rate");
            var lags = openLoop.SelectMany(level => level.All).SelectMany(series => series.Measured.SortedStartLagTicks).Order().ToArray();
            md.AppendLine(Invariant(
                $"Requests started behind their schedule by {Ms(LoadResult.PercentileOf(lags, 0.50))} ms at p50 and {Ms(LoadResult.PercentileOf(lags, 0.99))} ms at p99, all paths together; that wait is not in the latencies above.  "));
            var unsent = openLoop.SelectMany(level => level.All).Where(series => series.Measured.Unsent > 0).ToList();
            md.AppendLine(unsent.Count == 0
                ? "No request fell due while all slots were in flight: every one was sent."
                : Invariant($"Not sent, because {LoadShape.OpenLoopSlots} requests were in flight already: {string.Join(", ", unsent.Select(series => $"{series.Name} at {series.Shape.Label}: {series.Measured.Unsent:N0}"))}."));
            md.AppendLine();
        }

        if (run.HasBaseline)
            AppendBaselineComparison(md, run);

        md.AppendLine("## Gateway process").AppendLine();
        var memory = run.Memory;
        md.AppendLine(Invariant(
            $"Resident memory {memory.StartRssKb / 1024.0:F0} MiB after start, {memory.EndRssKb / 1024.0:F0} MiB at the end; peak (VmHWM) **{memory.PeakKb / 1024.0:F0} MiB**; {memory.Threads} threads at the end.  "));
        if (run.Commits > 0)
            md.AppendLine(Invariant(
                $"Transactions committed in the gateway's database during the run: {run.Commits:N0} for {run.GatewaySucceeded:N0} requests, **{(double)run.GatewaySucceeded / run.Commits:F1} requests per commit** (group commit; the count includes a few setup and check transactions).  "));
        md.AppendLine("CPU ms/request = user + system time (/proc/&lt;pid&gt;/stat) over a path's measured slices ÷ requests answered in them: of the gateway or bare forwarder process, and of the PostgreSQL server with its backends (gateway slices, throwaway cluster only).");
        md.AppendLine();

        md.AppendLine("## Checks").AppendLine();
        var succeeded = run.GatewaySucceeded;
        var failed = run.GatewayFailed;
        md.AppendLine(Invariant($"- Gateway requests: **{succeeded:N0} succeeded, {failed:N0} failed** (warm-ups included); direct requests failed: {run.DirectFailed:N0}; bare hop requests failed: {run.BareFailed:N0}."));
        var verdict = charged == succeeded ? "one per succeeded gateway request, none lost." : Invariant($"**{succeeded - charged:N0} missing**.");
        md.AppendLine(Invariant($"- `{ChargedEvent}` events stored: **{charged:N0}** — {verdict}"));
        if (run.HasBaseline)
            md.AppendLine(Invariant(
                $"- Baseline: {run.BaselineSucceeded:N0} succeeded, {run.BaselineFailed:N0} failed; `{ChargedEvent}` events stored: {baselineCharged:N0}."));
        var c16 = run.Levels.FirstOrDefault(l => l.Shape == LoadShape.Closed(16));
        var c64 = run.Levels.FirstOrDefault(l => l.Shape == LoadShape.Closed(64));
        if (c16 is not null)
        {
            var plain = Added(c16.GatewayPlain.Measured, c16.DirectPlain.Measured, 0.99);
            var stream = Added(c16.GatewayStream.Measured, c16.DirectStream.Measured, 0.99);
            var barePlain = Added(c16.BarePlain.Measured, c16.DirectPlain.Measured, 0.99);
            md.AppendLine(Invariant($"- Target: added p99 at 16 callers ≤ 1 ms with the charge durable — measured {plain} ms non-streaming, {stream} ms streaming (last byte); a bare hop alone adds {barePlain} ms."));
        }
        if (c64 is not null)
        {
            md.AppendLine(Invariant(
                $"- Target: throughput through the gateway ≥ 50% of direct at 64 callers — measured {Percent(c64.GatewayPlain, c64.DirectPlain)} non-streaming, {Percent(c64.GatewayStream, c64.DirectStream)} streaming; a bare hop alone reaches {Percent(c64.BarePlain, c64.DirectPlain)} and {Percent(c64.BareStream, c64.DirectStream)}."));
        }
        return md.ToString();
    }

    /// <summary>The non-streaming and the streaming tables for a set of levels, each path's figures and then the gateway's overhead.</summary>
    private static void AppendLevels(StringBuilder md, List<Level> levels, string heading, string firstColumn)
    {
        md.AppendLine($"{heading} Non-streaming").AppendLine();
        md.AppendLine($"| {firstColumn} | Path | Requests/s | p50 ms | p90 ms | p99 ms | Succeeded | Failed | Proxy CPU ms/request | PostgreSQL CPU ms/request |");
        md.AppendLine("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var level in levels)
            foreach (var series in level.Plain)
                AppendLatencyRow(md, level.Shape.Label, series);
        md.AppendLine();
        md.AppendLine($"| {firstColumn} | Added p50 ms | Added p90 ms | Added p99 ms | p99 gateway ÷ direct | Throughput gateway ÷ direct | Bare hop: added p99 ms | Bare hop: throughput ÷ direct | Throughput gateway ÷ bare hop |");
        md.AppendLine("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var level in levels)
        {
            var (d, b, g) = (level.DirectPlain.Measured, level.BarePlain.Measured, level.GatewayPlain.Measured);
            md.AppendLine(Invariant($"| {level.Shape.Label} | {Added(g, d, 0.50)} | {Added(g, d, 0.90)} | **{Added(g, d, 0.99)}** | {Ratio(g.Percentile(0.99), d.Percentile(0.99))} | **{Throughput(g, d)}** | {Added(b, d, 0.99)} | {Throughput(b, d)} | {Throughput(g, b)} |"));
        }
        md.AppendLine();

        md.AppendLine($"{heading} Streaming").AppendLine();
        md.AppendLine($"| {firstColumn} | Path | Requests/s | First byte p50 ms | p90 | p99 | Last byte p50 ms | p90 | p99 | Succeeded | Failed | Proxy CPU ms/request | PostgreSQL CPU ms/request |");
        md.AppendLine("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var level in levels)
            foreach (var series in level.Streaming)
                AppendStreamRow(md, level.Shape.Label, series);
        md.AppendLine();
        md.AppendLine($"| {firstColumn} | Added first byte p50 ms | p90 | p99 | Added last byte p50 ms | p90 | p99 | Last byte p99 gateway ÷ direct | Throughput gateway ÷ direct | Bare hop: added last byte p99 ms | Bare hop: throughput ÷ direct | Throughput gateway ÷ bare hop |");
        md.AppendLine("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var level in levels)
        {
            var (d, b, g) = (level.DirectStream, level.BareStream, level.GatewayStream);
            md.AppendLine(Invariant(
                $"| {level.Shape.Label} | {Added(g.FirstByte, d.FirstByte, 0.50)} | {Added(g.FirstByte, d.FirstByte, 0.90)} | {Added(g.FirstByte, d.FirstByte, 0.99)} | {Added(g.Measured, d.Measured, 0.50)} | {Added(g.Measured, d.Measured, 0.90)} | **{Added(g.Measured, d.Measured, 0.99)}** | {Ratio(g.Measured.Percentile(0.99), d.Measured.Percentile(0.99))} | **{Throughput(g.Measured, d.Measured)}** | {Added(b.Measured, d.Measured, 0.99)} | {Throughput(b.Measured, d.Measured)} | {Throughput(g.Measured, b.Measured)} |"));
        }
        md.AppendLine();
    }

    /// <summary>The gateway against its baseline, slice for slice in the same rotation: what a change did.</summary>
    private static void AppendBaselineComparison(StringBuilder md, Run run)
    {
        md.AppendLine("## Gateway vs baseline").AppendLine();
        md.AppendLine("| Callers or rate | Mode | Requests/s gateway ÷ baseline | p50 ms, gateway − baseline | p99 ms, gateway − baseline | Gateway CPU ms/request, gateway − baseline | PostgreSQL CPU ms/request, gateway − baseline |");
        md.AppendLine("|--:|---|--:|--:|--:|--:|--:|");
        foreach (var level in run.Levels)
        {
            AppendComparisonRow(md, level.Shape.Label, "non-streaming", level.GatewayPlain, level.BaselinePlain!);
            AppendComparisonRow(md, level.Shape.Label, "streaming, last byte", level.GatewayStream, level.BaselineStream!);
        }
        md.AppendLine();
    }

    private static void AppendComparisonRow(StringBuilder md, string load, string mode, Series gateway, Series baseline)
    {
        var (g, b) = (gateway.Measured, baseline.Measured);
        md.AppendLine(Invariant(
            $"| {load} | {mode} | {Throughput(g, b)} | {Added(g, b, 0.50)} | {Added(g, b, 0.99)} | {CpuDifference(gateway.CpuPerRequest, baseline.CpuPerRequest)} | {CpuDifference(gateway.DatabaseCpuPerRequest, baseline.DatabaseCpuPerRequest)} |"));
    }

    private static string CpuDifference(double? gateway, double? baseline) =>
        gateway is { } g && baseline is { } b ? (g - b).ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture) : "";

    private static void AppendLatencyRow(StringBuilder md, string load, Series series)
    {
        var m = series.Measured;
        md.AppendLine(Invariant(
            $"| {load} | {series.PathName} | {m.PerSecond:N0} | {Ms(m.Percentile(0.50))} | {Ms(m.Percentile(0.90))} | {Ms(m.Percentile(0.99))} | {m.Succeeded:N0} | {m.Failed:N0} | {Cpu(series.CpuPerRequest)} | {Cpu(series.DatabaseCpuPerRequest)} |"));
    }

    private static void AppendStreamRow(StringBuilder md, string load, Series series)
    {
        var (m, f) = (series.Measured, series.FirstByte);
        md.AppendLine(Invariant(
            $"| {load} | {series.PathName} | {m.PerSecond:N0} | {Ms(f.Percentile(0.50))} | {Ms(f.Percentile(0.90))} | {Ms(f.Percentile(0.99))} | {Ms(m.Percentile(0.50))} | {Ms(m.Percentile(0.90))} | {Ms(m.Percentile(0.99))} | {m.Succeeded:N0} | {m.Failed:N0} | {Cpu(series.CpuPerRequest)} | {Cpu(series.DatabaseCpuPerRequest)} |"));
    }

    private static string Cpu(double? ms) => ms is { } value ? value.ToString("F3", CultureInfo.InvariantCulture) : "";

    private static string Added(LoadResult gateway, LoadResult direct, double fraction) =>
        (gateway.Percentile(fraction) - direct.Percentile(fraction)).TotalMilliseconds.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);

    private static string Ratio(TimeSpan gateway, TimeSpan direct) =>
        direct > TimeSpan.Zero ? (gateway / direct).ToString("F2", CultureInfo.InvariantCulture) + "×" : "";

    private static string Throughput(LoadResult measured, LoadResult reference) =>
        reference.PerSecond > 0 ? (measured.PerSecond / reference.PerSecond).ToString("F2", CultureInfo.InvariantCulture) + "×" : "";

    private static string Percent(Series through, Series direct) =>
        direct.Measured.PerSecond > 0 ? (100 * through.Measured.PerSecond / direct.Measured.PerSecond).ToString("F0", CultureInfo.InvariantCulture) + "%" : "";

    private static string Ms(TimeSpan latency) => latency.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public sealed record MemoryUse(long StartRssKb, long EndRssKb, long PeakKb, long Threads);

    /// <summary>One path (direct, bare hop or gateway) in one mode (streaming or not) under one load, over all its slices.</summary>
    private sealed class Series(string path, LoadShape shape, Route route, byte[] body, bool stream, Func<TimeSpan?>? databaseCpu)
    {
        private TimeSpan cpu;
        private TimeSpan? dbCpu;

        /// <summary>direct, bare hop, gateway or baseline.</summary>
        public string PathName { get; } = path;
        public string Name => stream ? PathName + " stream" : PathName;
        public LoadShape Shape { get; } = shape;
        public LoadResult Measured { get; private set; } = LoadResult.Empty;
        public LoadResult FirstByte { get; private set; } = LoadResult.Empty;
        public LoadResult WarmUp { get; private set; } = LoadResult.Empty;

        public double? CpuPerRequest => route.Proxy is null || Measured.Succeeded == 0 ? null : cpu.TotalMilliseconds / Measured.Succeeded;

        public double? DatabaseCpuPerRequest => dbCpu is { } used && Measured.Succeeded > 0 ? used.TotalMilliseconds / Measured.Succeeded : null;

        public async Task WarmUpAsync(TimeSpan length) =>
            WarmUp = WarmUp.Add((await RunAsync(length)).Load);

        public async Task MeasureSliceAsync(TimeSpan length)
        {
            var cpuBefore = route.Proxy?.CpuTime() ?? TimeSpan.Zero;
            var dbCpuBefore = databaseCpu?.Invoke();
            var (load, firstBytes) = await RunAsync(length);
            if (route.Proxy is not null)
                cpu += route.Proxy.CpuTime() - cpuBefore;
            if (dbCpuBefore is { } before && databaseCpu!() is { } after)
                dbCpu = (dbCpu ?? TimeSpan.Zero) + (after - before);
            Measured = Measured.Add(load);
            FirstByte = FirstByte.Add(firstBytes);
        }

        private async Task<(LoadResult Load, LoadResult FirstBytes)> RunAsync(TimeSpan length)
        {
            var firstBytes = Enumerable.Range(0, Shape.MaxInFlight).Select(_ => new List<long>()).ToArray();
            var load = await Shape.RunAsync(length, async caller =>
                firstBytes[caller].Add(await route.Client.SendAsync(caller, body, stream)));
            var sorted = firstBytes.SelectMany(f => f).Order().ToArray();
            return (load, new LoadResult(sorted.Length, 0, null, load.Elapsed, sorted, 0, []));
        }

        public void PrintSummary()
        {
            var m = Measured;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Name,-20} {(Shape.IsOpen ? "at" : "callers")} {Shape.Label,7}: {m.PerSecond,8:F0} req/s  p50 {Ms(m.Percentile(0.50)),6} ms  p99 {Ms(m.Percentile(0.99)),7} ms  failed {m.Failed}{(m.Unsent > 0 ? $"  unsent {m.Unsent}" : "")}{(CpuPerRequest is { } c ? $"  cpu {c:F3} ms/req" : "")}{(DatabaseCpuPerRequest is { } db ? $"  postgres {db:F3} ms/req" : "")}"));
            if (m.FirstError is not null)
                Console.Error.WriteLine($"  first error: {m.FirstError.GetType().Name}: {m.FirstError.Message}");
        }
    }

    /// <summary>Where requests go, and the process in between whose CPU time is counted, if any.</summary>
    private sealed record Route(ChatLoadClient Client, ProxyProcess? Proxy);

    private sealed record Level(
        LoadShape Shape, Series DirectPlain, Series BarePlain, Series GatewayPlain, Series DirectStream, Series BareStream, Series GatewayStream,
        Series? BaselinePlain, Series? BaselineStream)
    {
        public IEnumerable<Series> Gateway => [GatewayPlain, GatewayStream];

        public IEnumerable<Series> Direct => [DirectPlain, DirectStream];

        public IEnumerable<Series> Bare => [BarePlain, BareStream];

        public IEnumerable<Series> Baseline => BaselinePlain is null ? [] : [BaselinePlain, BaselineStream!];

        public Series[] Plain => BaselinePlain is null ? [DirectPlain, BarePlain, GatewayPlain] : [DirectPlain, BarePlain, GatewayPlain, BaselinePlain];

        public Series[] Streaming => BaselineStream is null ? [DirectStream, BareStream, GatewayStream] : [DirectStream, BareStream, GatewayStream, BaselineStream];

        public Series[] All => [.. Plain, .. Streaming];
    }

    private sealed class Run(Route direct, Route bare, Route gateway, Route? baseline, Func<TimeSpan?> databaseCpu)
    {
        private static readonly byte[] PlainBody = ChatLoadClient.RequestBody(ModelSlug, stream: false);
        private static readonly byte[] StreamBody = ChatLoadClient.RequestBody(ModelSlug, stream: true);
        private readonly List<Level> warmUps = [];

        public List<Level> Levels { get; } = [];

        public MemoryUse Memory { get; set; } = new(0, 0, 0, 0);

        public long Commits { get; set; }

        private IEnumerable<Series> AllGateway => Levels.SelectMany(l => l.Gateway).Concat(warmUps.SelectMany(l => l.Gateway));

        private IEnumerable<Series> AllDirect => Levels.SelectMany(l => l.Direct).Concat(warmUps.SelectMany(l => l.Direct));

        private IEnumerable<Series> AllBare => Levels.SelectMany(l => l.Bare).Concat(warmUps.SelectMany(l => l.Bare));

        private IEnumerable<Series> AllBaseline => Levels.SelectMany(l => l.Baseline).Concat(warmUps.SelectMany(l => l.Baseline));

        public bool HasBaseline => baseline is not null;

        public long GatewaySucceeded => Succeeded(AllGateway);

        public long GatewayFailed => Failed(AllGateway);

        public long DirectFailed => Failed(AllDirect);

        public long BareFailed => Failed(AllBare);

        public long BaselineSucceeded => Succeeded(AllBaseline);

        public long BaselineFailed => Failed(AllBaseline);

        /// <summary>Warm-ups included: every request sent counts when the charges are checked.</summary>
        private static long Succeeded(IEnumerable<Series> series) => series.Sum(s => (long)s.Measured.Succeeded + s.WarmUp.Succeeded);

        private static long Failed(IEnumerable<Series> series) => series.Sum(s => (long)s.Measured.Failed + s.WarmUp.Failed);

        public string? FirstGatewayError => FirstError(AllGateway);

        public string? FirstBareError => FirstError(AllBare);

        public string? FirstBaselineError => FirstError(AllBaseline);

        private static string? FirstError(IEnumerable<Series> series) => series
            .Select(s => s.Measured.FirstError ?? s.WarmUp.FirstError)
            .FirstOrDefault(e => e is not null) is { } e ? $"{e.GetType().Name}: {e.Message}" : null;

        private Level NewLevel(LoadShape shape) => new(shape,
            new Series("direct", shape, direct, PlainBody, false, null),
            new Series("bare hop", shape, bare, PlainBody, false, null),
            new Series("gateway", shape, gateway, PlainBody, false, databaseCpu),
            new Series("direct", shape, direct, StreamBody, true, null),
            new Series("bare hop", shape, bare, StreamBody, true, null),
            new Series("gateway", shape, gateway, StreamBody, true, databaseCpu),
            baseline is null ? null : new Series("baseline", shape, baseline, PlainBody, false, databaseCpu),
            baseline is null ? null : new Series("baseline", shape, baseline, StreamBody, true, databaseCpu));

        public async Task WarmUpAsync(LoadShape shape, TimeSpan length)
        {
            var level = NewLevel(shape);
            warmUps.Add(level);
            foreach (var series in level.All)
                await series.WarmUpAsync(length);
        }

        public async Task MeasureLevelAsync(LoadShape shape, TimeSpan warmUp, int slices)
        {
            var level = NewLevel(shape);
            Levels.Add(level);
            if (warmUp > TimeSpan.Zero)
                foreach (var series in level.All)
                    await series.WarmUpAsync(warmUp);

            for (var slice = 0; slice < slices; slice++)
            {
                foreach (var paths in new[] { level.Plain, level.Streaming })
                {
                    // Each path takes each place in the order in turn, so a drift in the machine's speed spreads over all of them.
                    for (var i = 0; i < paths.Length; i++)
                        await paths[(slice + i) % paths.Length].MeasureSliceAsync(SliceLength);
                }
            }
            foreach (var series in level.All)
                series.PrintSummary();
        }
    }
}
