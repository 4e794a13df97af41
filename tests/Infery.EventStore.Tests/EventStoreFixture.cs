using Infery.EventStore.Schema;
using Infery.Testing.Fixtures;
using Npgsql;

namespace Infery.EventStore.Tests;

/// <summary>A fresh migrated database per test class, and helpers to open stores on it.</summary>
public sealed class EventStoreFixture : IAsyncLifetime
{
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        ConnectionString = await PostgresServer.CreateDatabaseAsync("es");
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        await SchemaMigrator.ApplyAsync(DataSource, [SchemaModule.EventStore]);
    }

    public EventStore NewStore(params IInlineProjection[] inline) =>
        new(DataSource, NewRegistry(), new EventStoreOptions { InlineProjections = inline });

    public static EventTypeRegistry NewRegistry() =>
        new EventTypeRegistry().Register<ThingHappened>().Register<Poison>();

    public async Task<long> ScalarAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync() => await DataSource.DisposeAsync();
}
