using Npgsql;

namespace Infery.Api.Tests.Fixtures;

/// <summary>Makes the database refuse the events of one request, as a failing database would, and take them again.</summary>
public static class RefusedEvents
{
    /// <param name="sqlState">The error the database answers with: by default one raised by a trigger, refusing this one statement.</param>
    public static async Task RefuseAsync(string connectionString, string requestId, string sqlState = "P0001") =>
        await ExecuteAsync(connectionString, $"""
            create or replace function refuse_{requestId}() returns trigger language plpgsql as
              $$ begin raise exception 'event refused for a test' using errcode = '{sqlState}'; end $$;
            create trigger refuse_{requestId} before insert on events for each row
              when (new.data->>'request_id' = '{requestId}') execute function refuse_{requestId}();
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
