using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Infery.Api.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Infery.Api.Gateway.Idempotency;

/// <summary>
/// Idempotency-Key on paid POSTs: the first request with a key runs, its response (status, the headers that
/// matter, body — for a stream, the SSE bytes) is kept per workspace; a retry with the same key and body
/// gets that response again, with the same x-request-id and without a second provider call or charge.
/// The key is claimed by an insert that conflicts, so this holds across gateway instances. A retry that
/// arrives while the first is running waits for it, up to a bound, then gets 409.
/// </summary>
public sealed class IdempotencyKeys(NpgsqlDataSource db, IOptions<IdempotencyOptions> options, TimeProvider clock, ILogger<IdempotencyKeys> logger)
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "idempotent-replayed";
    public const int MaxKeyLength = 255;

    private static readonly string[] KeptHeaders =
        ["content-type", "cache-control", RequestId.Header, "x-credits-used", "x-model-used", "x-fallback-from", "x-fallback-depth"];

    private static readonly object NotWorthKeeping = new();

    /// <summary>
    /// Marks a response a retry should not get again although its status says success: a stream that ended short
    /// (the client left, the provider broke off, the gateway stopped, its charge was not recorded) was sent as 200
    /// before anyone knew.
    /// </summary>
    public static void DoNotKeep(HttpContext http) => http.Items[NotWorthKeeping] = true;

    private sealed record StoredResponse(byte[] BodyHash, int? Status, Dictionary<string, string>? Headers, byte[]? Body);

    public async Task RunAsync(HttpContext http, string workspaceId, string key, Func<Task> handle)
    {
        if (key.Length is 0 or > MaxKeyLength)
        {
            await ApiError.InvalidRequest($"{Header} must be 1 to {MaxKeyLength} characters.", Header, "invalid_idempotency_key")
                .WriteAsync(http.Response);
            return;
        }
        var bodyHash = await HashBodyAsync(http.Request, http.RequestAborted);
        var requestId = RequestId.Of(http);
        var settings = options.Value;
        var waitUntil = clock.GetUtcNow().AddMilliseconds(settings.WaitForInFlightMs);
        var pause = TimeSpan.FromMilliseconds(20);

        while (!await TryClaimAsync(workspaceId, key, bodyHash, requestId, settings, http.RequestAborted))
        {
            var stored = await FindAsync(workspaceId, key, http.RequestAborted);
            if (stored is null)
                continue; // released between our two statements: claim again
            if (!CryptographicOperations.FixedTimeEquals(stored.BodyHash, bodyHash))
            {
                await new ApiError(422, $"This {Header} was already used with a different request (another body or endpoint). Use a new key for a new request.",
                    "invalid_request_error", Header, "idempotency_key_reused").WriteAsync(http.Response);
                return;
            }
            if (stored.Status is { } status)
            {
                await ReplayAsync(http.Response, status, stored.Headers!, stored.Body!);
                return;
            }
            if (clock.GetUtcNow() >= waitUntil)
            {
                await new ApiError(409, $"A request with this {Header} is still in progress. Retry after it has finished.",
                    "invalid_request_error", Header, "idempotency_key_in_flight").WriteAsync(http.Response);
                return;
            }
            await Task.Delay(pause, clock, http.RequestAborted);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 250));
        }

        await RunAndKeepAsync(http, workspaceId, key, requestId, handle);
    }

    /// <summary>A response longer than this is not kept: the key is released and a retry runs afresh.</summary>
    public const int MaxKeptResponseBytes = 8 * 1024 * 1024;

    private async Task RunAndKeepAsync(HttpContext http, string workspaceId, string key, string requestId, Func<Task> handle)
    {
        var original = http.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var recording = new RecordingStream(original.Stream, MaxKeptResponseBytes);
        var recorder = new StreamResponseBodyFeature(recording, original);
        http.Features.Set<IHttpResponseBodyFeature>(recorder);
        var kept = false;
        try
        {
            await handle();
            await recorder.CompleteAsync();
            if (WorthKeeping(http.Response.StatusCode) && !recording.Overflowed && !http.Items.ContainsKey(NotWorthKeeping))
            {
                var headers = KeptHeaders
                    .Where(name => http.Response.Headers.ContainsKey(name))
                    .ToDictionary(name => name, name => http.Response.Headers[name].ToString());
                await KeepAsync(workspaceId, key, requestId, http.Response.StatusCode, headers, recording.Recorded);
                kept = true;
            }
        }
        finally
        {
            http.Features.Set(original);
            if (!kept)
                await ReleaseAsync(workspaceId, key, requestId);
        }
    }

    /// <summary>
    /// Kept: what a retry of the same body would get again (2xx, and 4xx about the request). Released, so a
    /// retry runs afresh: 402, 408, 409, 429, a client that left before the first byte, and every 5xx —
    /// none of them charged anything, and each may turn out differently a moment later.
    /// </summary>
    private static bool WorthKeeping(int status) => status < 500 && status is not (402 or 408 or 409 or 429 or 499);

    private static async Task ReplayAsync(HttpResponse response, int status, Dictionary<string, string> headers, byte[] body)
    {
        response.StatusCode = status;
        foreach (var (name, value) in headers)
            response.Headers[name] = value;
        response.Headers[ReplayedHeader] = "true";
        await response.Body.WriteAsync(body);
    }

    /// <summary>The path and the body: one key sent to two endpoints with the same body is two different requests.</summary>
    private static async Task<byte[]> HashBodyAsync(HttpRequest request, CancellationToken ct)
    {
        request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(request.Path.Value + "\n"));
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(buffer, ct)) > 0)
                hash.AppendData(buffer, 0, read);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        request.Body.Position = 0;
        return hash.GetHashAndReset();
    }

    private async Task<bool> TryClaimAsync(string workspaceId, string key, byte[] bodyHash, string requestId, IdempotencyOptions settings, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        // A key is taken over only when its response has expired, or when its request was abandoned mid-way.
        await using var cmd = db.CreateCommand("""
            insert into idempotency_keys (workspace_id, key, body_hash, request_id, claimed_at, expires_at)
            values ($1, $2, $3, $4, $5, $6)
            on conflict (workspace_id, key) do update
               set body_hash = excluded.body_hash, request_id = excluded.request_id, claimed_at = excluded.claimed_at,
                   expires_at = excluded.expires_at, status = null, headers = null, body = null
             where idempotency_keys.expires_at < excluded.claimed_at
                or (idempotency_keys.status is null and idempotency_keys.claimed_at < $7)
            returning 1
            """);
        cmd.Parameters.AddWithValue(workspaceId);
        cmd.Parameters.AddWithValue(key);
        cmd.Parameters.AddWithValue(bodyHash);
        cmd.Parameters.AddWithValue(requestId);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.AddWithValue(now.AddHours(settings.RetentionHours));
        cmd.Parameters.AddWithValue(now.AddMilliseconds(-settings.AbandonedAfterMs));
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    private async Task<StoredResponse?> FindAsync(string workspaceId, string key, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "select body_hash, status, headers, body from idempotency_keys where workspace_id = $1 and key = $2 and expires_at >= $3");
        cmd.Parameters.AddWithValue(workspaceId);
        cmd.Parameters.AddWithValue(key);
        cmd.Parameters.AddWithValue(clock.GetUtcNow());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return new StoredResponse(
            reader.GetFieldValue<byte[]>(0),
            reader.IsDBNull(1) ? null : reader.GetInt32(1),
            reader.IsDBNull(2) ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(2)),
            reader.IsDBNull(3) ? null : reader.GetFieldValue<byte[]>(3));
    }

    private async Task KeepAsync(string workspaceId, string key, string requestId, int status, Dictionary<string, string> headers, byte[] body)
    {
        await using var cmd = db.CreateCommand(
            "update idempotency_keys set status = $4, headers = $5, body = $6 where workspace_id = $1 and key = $2 and request_id = $3");
        cmd.Parameters.AddWithValue(workspaceId);
        cmd.Parameters.AddWithValue(key);
        cmd.Parameters.AddWithValue(requestId);
        cmd.Parameters.AddWithValue(status);
        cmd.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(headers), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.AddWithValue(body);
        // The client already has its answer; a retry of this key would run it again, hence nothing to cancel.
        await cmd.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private async Task ReleaseAsync(string workspaceId, string key, string requestId)
    {
        try
        {
            await using var cmd = db.CreateCommand(
                "delete from idempotency_keys where workspace_id = $1 and key = $2 and request_id = $3 and status is null");
            cmd.Parameters.AddWithValue(workspaceId);
            cmd.Parameters.AddWithValue(key);
            cmd.Parameters.AddWithValue(requestId);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            // The claim then expires as abandoned; until then retries of this key get 409.
            logger.LogWarning(e, "could not release idempotency key of {RequestId}", requestId);
        }
    }
}
