using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Infery.EventStore;
using Infery.EventStore.Schema;
using Npgsql;

namespace Infery.Bench;

[EventName("bench.request_served.v1")]
public sealed record BenchRequestServed(string Model, int InputTokens, int OutputTokens, long CostMicros);

/// <summary>
/// Appends of one small event to a fresh stream, as a request's settle step does: through the event store's
/// group commit, and as a baseline through one Npgsql transaction per append. Both run against the same
/// database in one run, in alternating one-second slices so that both see the same disk and machine load;
/// afterwards the events table is counted to prove no acknowledged append was lost.
/// </summary>
public static class EventStoreAppendBenchmark
{
    private const string StreamType = "bench_request";
    private const string WorkspaceId = "ws_bench";
    private const string GroupKey = "group";
    private const string DirectKey = "direct";
    private static readonly TimeSpan SliceLength = TimeSpan.FromSeconds(1);
    private static readonly BenchRequestServed SampleEvent = new("openai/gpt-4o-mini", 412, 96, 1_260);

    public static async Task<int> RunAsync(Arguments args)
    {
        var smoke = args.Flag("smoke");
        var seconds = args.Int("seconds") ?? (smoke ? 1 : 5);
        var callerLevels = args.IntList("concurrency") ?? (smoke ? [1, 16] : [1, 16, 64]);
        var outPath = args.Text("out") ?? (smoke ? null : Path.Combine(Machine.RepositoryRoot(), "bench", "results", "appends.md"));
        args.RejectUnknown();
        var warmUp = TimeSpan.FromSeconds(smoke ? 0 : 1);

        await using var database = await BenchDatabase.OpenAsync();
        await using var dataSource = database.CreateDataSource(callerLevels.Max() + 8);
        await SchemaMigrator.ApplyAsync(dataSource, [SchemaModule.EventStore]);
        var setup = await DescribeSetupAsync(dataSource, database.Origin, warmUp, seconds);

        var registry = new EventTypeRegistry().Register<BenchRequestServed>();
        var runId = Guid.NewGuid().ToString("N")[..8];
        var levels = new List<LevelResult>();
        await using (var store = new EventStore.EventStore(dataSource, registry))
        {
            var groupCommit = new AppendPath("group commit", GroupKey,
                streamId => store.AppendQuickAsync(streamId, StreamType, [SampleEvent], MetadataFor(streamId)));
            var direct = new AppendPath("one transaction per append", DirectKey,
                streamId => AppendInOwnTransactionAsync(dataSource, registry, streamId));

            foreach (var callers in callerLevels)
                levels.Add(await RunLevelAsync(groupCommit, direct, runId, callers, warmUp, seconds));
        }

        var runs = new List<CheckedRun>();
        foreach (var level in levels)
        {
            runs.Add(await CheckStoredAsync(dataSource, level.GroupCommit));
            runs.Add(await CheckStoredAsync(dataSource, level.Direct));
        }

        var report = RenderReport(setup, runs);
        Console.WriteLine(report);
        if (outPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            await File.WriteAllTextAsync(outPath, report);
            Console.Error.WriteLine($"wrote {outPath}");
        }

        var failed = runs.Sum(r => r.Run.Measured.Failed + (r.Run.WarmUp?.Failed ?? 0));
        var mismatched = runs.Where(r => !r.AllStored).ToList();
        foreach (var check in mismatched)
            Console.Error.WriteLine($"MISMATCH {check.Run.Path.Name}, {check.Run.Callers} callers: " +
                $"{check.Run.Measured.Succeeded}+{check.Run.WarmUp?.Succeeded ?? 0} appends succeeded, {check.Stored}+{check.WarmUpStored} events stored");
        if (failed > 0)
            Console.Error.WriteLine($"FAILED appends: {failed}");
        return failed == 0 && mismatched.Count == 0 ? 0 : 1;
    }

    private static EventMetadata MetadataFor(string streamId) => new(RequestId: streamId, WorkspaceId: WorkspaceId);

    /// <summary>The baseline: what an append costs without group commit.</summary>
    private static async Task AppendInOwnTransactionAsync(NpgsqlDataSource dataSource, EventTypeRegistry registry, string streamId)
    {
        await using var conn = await dataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();

        await using var upsertStream = new NpgsqlCommand("""
            insert into streams (id, type, version, workspace_id) values ($1, $2, 1, $3)
            on conflict (id) do update set version = streams.version + 1
            returning version
            """, conn, tx);
        upsertStream.Parameters.AddWithValue(streamId);
        upsertStream.Parameters.AddWithValue(StreamType);
        upsertStream.Parameters.AddWithValue(WorkspaceId);
        var version = (long)(await upsertStream.ExecuteScalarAsync())!;

        await using var insertEvent = new NpgsqlCommand("""
            insert into events (stream_id, version, type, data, metadata, workspace_id, created_at)
            values ($1, $2, $3, $4::jsonb, $5::jsonb, $6, now())
            """, conn, tx);
        insertEvent.Parameters.AddWithValue(streamId);
        insertEvent.Parameters.AddWithValue(version);
        insertEvent.Parameters.AddWithValue(registry.NameOf(typeof(BenchRequestServed)));
        insertEvent.Parameters.AddWithValue(registry.Serialize(SampleEvent));
        insertEvent.Parameters.AddWithValue(JsonSerializer.Serialize(MetadataFor(streamId), registry.SerializerOptions));
        insertEvent.Parameters.AddWithValue(WorkspaceId);
        await insertEvent.ExecuteNonQueryAsync();

        await tx.CommitAsync();
    }

    private static async Task<LevelResult> RunLevelAsync(
        AppendPath groupCommit, AppendPath direct, string runId, int callers, TimeSpan warmUp, int slices)
    {
        var group = new PathRun(groupCommit, runId, callers);
        var baseline = new PathRun(direct, runId, callers);
        if (warmUp > TimeSpan.Zero)
        {
            await group.WarmUpAsync(warmUp);
            await baseline.WarmUpAsync(warmUp);
        }
        for (var slice = 0; slice < slices; slice++)
        {
            var (first, second) = slice % 2 == 0 ? (group, baseline) : (baseline, group);
            await first.MeasureSliceAsync(slice, SliceLength);
            await second.MeasureSliceAsync(slice, SliceLength);
        }
        group.PrintSummary();
        baseline.PrintSummary();
        return new LevelResult(callers, group, baseline);
    }

    private static async Task<CheckedRun> CheckStoredAsync(NpgsqlDataSource dataSource, PathRun run) =>
        new(run,
            Stored: await CountEventsAsync(dataSource, run.MeasuredPrefix),
            WarmUpStored: run.WarmUp is null ? 0 : await CountEventsAsync(dataSource, run.WarmUpPrefix));

    private static async Task<long> CountEventsAsync(NpgsqlDataSource dataSource, string streamPrefix)
    {
        await using var cmd = dataSource.CreateCommand("select count(*) from events where starts_with(stream_id, $1)");
        cmd.Parameters.AddWithValue(streamPrefix);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task<string> DescribeSetupAsync(NpgsqlDataSource dataSource, string origin, TimeSpan warmUp, int seconds)
    {
        await using var cmd = dataSource.CreateCommand(
            "select current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')");
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        var warmUpText = warmUp > TimeSpan.Zero ? $" after a {warmUp.TotalSeconds:0} s warm-up" : "";
        return string.Create(CultureInfo.InvariantCulture, $"""
            {DateTime.UtcNow:yyyy-MM-dd} · {Environment.ProcessorCount} CPU cores{Machine.LoadAverage()} · {RuntimeInformation.OSDescription} · .NET {Environment.Version}
            PostgreSQL {reader.GetString(0)} ({origin}) · fsync={reader.GetString(1)} · synchronous_commit={reader.GetString(2)}
            {seconds} s per path and level{warmUpText}, in 1 s slices alternating between the two paths; each append is one small event to a stream of its own; callers run closed-loop.
            """);
    }

    private static string RenderReport(string setup, List<CheckedRun> runs)
    {
        var md = new StringBuilder();
        md.AppendLine("# Event store appends: group commit vs one transaction per append").AppendLine();
        foreach (var line in setup.Split('\n'))
            md.AppendLine(line.TrimEnd() + "  ");
        md.AppendLine();
        md.AppendLine("| Callers | Path | Appends/s | Events/s | p50 ms | p99 ms | Succeeded | Failed | Stored | Group ÷ direct |");
        md.AppendLine("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var level in runs.GroupBy(r => r.Run.Callers))
        {
            var group = level.Single(r => r.Run.Path.Key == GroupKey);
            var direct = level.Single(r => r.Run.Path.Key == DirectKey);
            var ratio = group.Run.Measured.PerSecond / direct.Run.Measured.PerSecond;
            AppendRow(md, group, string.Create(CultureInfo.InvariantCulture, $"**{ratio:F2}×**"));
            AppendRow(md, direct, "");
        }
        md.AppendLine();

        var lost = runs.Sum(r => r.Lost);
        var unexpected = runs.Sum(r => r.Unexpected);
        var stored = runs.Sum(r => r.Stored + r.WarmUpStored);
        var warmUpStored = runs.Sum(r => r.WarmUpStored);
        md.AppendLine(lost == 0 && unexpected == 0
            ? string.Create(CultureInfo.InvariantCulture,
                $"Events table counted after the run: every succeeded append is stored, none lost, none extra ({stored:N0} events, {warmUpStored:N0} of them from warm-ups).  ")
            : string.Create(CultureInfo.InvariantCulture,
                $"Events table counted after the run: **{lost:N0} lost, {unexpected:N0} unexpected** events.  "));
        md.AppendLine("Stored = rows in `events` for that run's streams. One event per append, so Events/s = Appends/s.");
        return md.ToString();
    }

    private static void AppendRow(StringBuilder md, CheckedRun check, string ratio)
    {
        var m = check.Run.Measured;
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {check.Run.Callers} | {check.Run.Path.Name} | {m.PerSecond:N0} | {m.PerSecond:N0} | {Ms(m.Percentile(0.50))} | {Ms(m.Percentile(0.99))} | {m.Succeeded:N0} | {m.Failed:N0} | {check.Stored:N0} | {ratio} |"));
    }

    private static string Ms(TimeSpan latency) => latency.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture);

    private sealed record AppendPath(string Name, string Key, Func<string, Task> AppendAsync);

    /// <summary>One path at one level of callers; each append goes to a new stream named after the run, path and level.</summary>
    private sealed class PathRun(AppendPath path, string runId, int callers)
    {
        public AppendPath Path { get; } = path;
        public int Callers { get; } = callers;
        public string MeasuredPrefix { get; } = $"{runId}-{path.Key}-c{callers}-";
        public string WarmUpPrefix { get; } = $"{runId}-warmup-{path.Key}-c{callers}-";
        public LoadResult Measured { get; private set; } = LoadResult.Empty;
        public LoadResult? WarmUp { get; private set; }

        public async Task WarmUpAsync(TimeSpan length) =>
            WarmUp = await ClosedLoopLoad.RunAsync(Callers, length,
                (caller, count) => Path.AppendAsync($"{WarmUpPrefix}{caller}-{count}"));

        public async Task MeasureSliceAsync(int slice, TimeSpan length) =>
            Measured = Measured.Add(await ClosedLoopLoad.RunAsync(Callers, length,
                (caller, count) => Path.AppendAsync($"{MeasuredPrefix}{slice}-{caller}-{count}")));

        public void PrintSummary()
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Path.Name,-28} callers {Callers,3}: {Measured.PerSecond,8:F0} appends/s  p50 {Ms(Measured.Percentile(0.50)),6} ms  p99 {Ms(Measured.Percentile(0.99)),6} ms  failed {Measured.Failed}"));
            if (Measured.FirstError is not null)
                Console.Error.WriteLine($"  first error: {Measured.FirstError.GetType().Name}: {Measured.FirstError.Message}");
        }
    }

    private sealed record LevelResult(int Callers, PathRun GroupCommit, PathRun Direct);

    private sealed record CheckedRun(PathRun Run, long Stored, long WarmUpStored)
    {
        public long Lost => Math.Max(0, Run.Measured.Succeeded - Stored) + Math.Max(0, (Run.WarmUp?.Succeeded ?? 0) - WarmUpStored);

        public long Unexpected => Math.Max(0, Stored - Run.Measured.Succeeded) + Math.Max(0, WarmUpStored - (Run.WarmUp?.Succeeded ?? 0));

        public bool AllStored => Lost == 0 && Unexpected == 0;
    }
}
