using System.Reflection;
using Npgsql;

namespace Infery.EventStore.Schema;

/// <summary>A set of numbered SQL scripts embedded in an assembly, e.g. "0001_streams.sql".</summary>
public sealed record SchemaModule(string Name, Assembly Assembly)
{
    public static SchemaModule EventStore { get; } = new("event_store", typeof(SchemaModule).Assembly);

    internal IEnumerable<(int Version, string Name, string Sql)> Scripts()
    {
        foreach (var resource in Assembly.GetManifestResourceNames().Where(r => r.EndsWith(".sql", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var fileName = resource.Split('.')[^2];
            var separator = fileName.IndexOf('_');
            if (separator <= 0 || !int.TryParse(fileName[..separator], out var version))
                throw new InvalidOperationException($"SQL script '{resource}' is not named NNNN_name.sql");
            using var stream = Assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            yield return (version, fileName, reader.ReadToEnd());
        }
    }
}

/// <summary>
/// Applies every module's scripts that are not applied yet, in one transaction, under an advisory lock
/// so that instances starting together do not race. Running it again changes nothing.
/// </summary>
public static class SchemaMigrator
{
    private const long LockKey = 0x1_4E_F3_27;

    public static async Task ApplyAsync(NpgsqlDataSource dataSource, IEnumerable<SchemaModule> modules, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await Execute(conn, tx, $"select pg_advisory_xact_lock({LockKey})", ct);
        await Execute(conn, tx, """
            create table if not exists schema_migrations (
                module     text not null,
                version    int not null,
                name       text not null,
                applied_at timestamptz not null default now(),
                primary key (module, version))
            """, ct);

        foreach (var module in modules)
        {
            var applied = new HashSet<int>();
            await using (var cmd = new NpgsqlCommand("select version from schema_migrations where module = $1", conn, tx))
            {
                cmd.Parameters.AddWithValue(module.Name);
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                    applied.Add(reader.GetInt32(0));
            }

            foreach (var (version, name, sql) in module.Scripts())
            {
                if (applied.Contains(version))
                    continue;
                await Execute(conn, tx, sql, ct);
                await using var record = new NpgsqlCommand("insert into schema_migrations (module, version, name) values ($1, $2, $3)", conn, tx);
                record.Parameters.AddWithValue(module.Name);
                record.Parameters.AddWithValue(version);
                record.Parameters.AddWithValue(name);
                await record.ExecuteNonQueryAsync(ct);
            }
        }

        await tx.CommitAsync(ct);
    }

    /// <summary>True when every script of every module is recorded as applied.</summary>
    public static async Task<bool> IsAppliedAsync(NpgsqlDataSource dataSource, IEnumerable<SchemaModule> modules, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("select module, version from schema_migrations", conn);
        var applied = new HashSet<(string, int)>();
        try
        {
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                applied.Add((reader.GetString(0), reader.GetInt32(1)));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return false;
        }
        return modules.All(m => m.Scripts().All(s => applied.Contains((m.Name, s.Version))));
    }

    private static async Task Execute(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
