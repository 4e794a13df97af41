using Npgsql;

namespace Infery.Api.Tests.Fixtures;

/// <summary>Makes the database refuse the events of one request, as a failing database would, and take them again.</summary>
public static class RefusedEvents
{
    public static async Task RefuseAsync(string connectionString, string requestId) =>
        await ExecuteAsync(connectionString, $"""
            create or replace function refuse_event() returns trigger language plpgsql as
              $$ begin raise exception 'event refused for a test'; end $$;
            create trigger refuse_{requestId} before insert on events for each row
              when (new.data->>'request_id' = '{requestId}') execute function refuse_event();
            """);

    public static async Task AcceptAsync(string connectionString, string requestId) =>
        await ExecuteAsync(connectionString, $"drop trigger refuse_{requestId} on events");

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
