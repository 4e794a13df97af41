using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Gateway.Billing;
using Infery.Api.Http;
using Infery.Api.Providers;
using Infery.Domain.Credits;
using Infery.Domain.Requests;

namespace Infery.Api.Gateway;

/// <summary>How one endpoint names and shapes what the chat pipeline produces.</summary>
public sealed record ChatEndpoint(string Name, string IdPrefix, Func<JsonObject, JsonObject> ShapeCompletion, Func<JsonObject, JsonObject> ShapeChunk)
{
    public static readonly ChatEndpoint ChatCompletions = new("chat.completions", "chatcmpl-", c => c, c => c);

    public static readonly ChatEndpoint Completions = new("completions", "cmpl-", LegacyCompletions.ToTextCompletion, LegacyCompletions.ToTextCompletionChunk);
}

/// <summary>
/// A validated chat request from model lookup to the last byte: check the model can take it, reserve the
/// worst case, call the provider, settle from real usage, and only then tell the client its cost —
/// in x-credits-used, or on streams in a credits_used chunk just before [DONE].
/// </summary>
public sealed class ChatPipeline(
    ModelCatalog catalog,
    ProviderRegistry providers,
    RequestBilling billing,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<ChatPipeline> logger)
{
    public async Task HandleAsync(HttpContext http, ChatRequest request, ChatEndpoint endpoint)
    {
        var authorized = http.Authorized();
        if (!catalog.TryGet(request.Model, out var model))
        {
            await ApiError.ModelNotFound(request.Model).WriteAsync(http.Response);
            return;
        }
        if (CapabilityCheck.Check(request, model) is { } unsupported)
        {
            await unsupported.WriteAsync(http.Response);
            return;
        }

        var promptEstimate = TokenEstimator.EstimatePrompt(request);
        var worstCase = Pricing.WorstCase(promptEstimate, request.MaxTokens ?? model.MaxOutputTokens, request.N, model.Prices);
        var (reservation, refused) = await billing.ReserveAsync(authorized, worstCase, http.RequestAborted);
        if (reservation is null)
        {
            await refused!.WriteAsync(http.Response);
            return;
        }

        try
        {
            var call = new ChatCall(request, model, endpoint.IdPrefix + Guid.NewGuid().ToString("N")[..24], clock.GetUtcNow().ToUnixTimeSeconds());
            var attempt = new Attempt(http, authorized, reservation, call, endpoint, promptEstimate);
            if (request.Stream)
                await StreamAsync(attempt);
            else
                await CompleteAsync(attempt);
        }
        finally
        {
            // Whatever happened above, no reservation outlives its request.
            reservation.Release();
        }
    }

    private sealed record Attempt(
        HttpContext Http, AuthorizedRequest Authorized, Reservation Reservation, ChatCall Call, ChatEndpoint Endpoint, int PromptEstimate)
    {
        public CatalogModel Model => Call.Model;
        public HttpResponse Response => Http.Response;
    }

    private async Task CompleteAsync(Attempt attempt)
    {
        ChatResult result;
        try
        {
            // Not tied to the client's connection: a provider that is generating is paid for, so the request runs to its end.
            result = await providers.For(attempt.Model.Provider).CompleteAsync(attempt.Call, lifetime.ApplicationStopping);
        }
        catch (ProviderException e)
        {
            await FailAsync(attempt, e.ToApiError());
            return;
        }

        long charged;
        try
        {
            charged = await SettleAsync(attempt, result.Usage, streamed: false, "completed");
        }
        catch (Exception e)
        {
            logger.LogError(e, "charge for {RequestId} not recorded; answering 503", attempt.Authorized.RequestId);
            await BillingUnavailable.WriteAsync(attempt.Response);
            return;
        }

        SetCostHeaders(attempt, charged);
        var body = attempt.Endpoint.ShapeCompletion(result.Completion);
        attempt.Response.ContentType = "application/json";
        await using var json = new System.Text.Json.Utf8JsonWriter(attempt.Response.BodyWriter, ServerSentEvents.WriterOptions);
        body.WriteTo(json);
    }

    private async Task StreamAsync(Attempt attempt)
    {
        var http = attempt.Http;
        var clientGone = http.RequestAborted;
        using var upstream = CancellationTokenSource.CreateLinkedTokenSource(clientGone, lifetime.ApplicationStopping);
        await using var items = providers.For(attempt.Model.Provider).StreamAsync(attempt.Call, upstream.Token).GetAsyncEnumerator(upstream.Token);

        // Nothing is sent until the provider produced its first item, so an upstream that fails at once
        // still gets a proper status code (and later a fallback).
        bool more;
        try
        {
            more = await items.MoveNextAsync();
        }
        catch (ProviderException e)
        {
            await FailAsync(attempt, e.ToApiError());
            return;
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested)
        {
            await billing.FailAsync(attempt.Authorized, attempt.Reservation, attempt.Endpoint.Name, attempt.Call.Request.Model,
                new ApiError(499, "The client closed the connection before the first byte.", "client_closed", null, "client_disconnected"));
            return;
        }

        ServerSentEvents.Start(attempt.Response);
        SetModelHeader(attempt);
        TokenUsage? usage = null;
        long generatedChars = 0;
        var outcome = "completed";
        ProviderException? failure = null;
        try
        {
            while (more)
            {
                var item = items.Current;
                if (item.Usage is { } final)
                    usage = final;
                if (item.Chunk is { } chunk)
                {
                    generatedChars += GeneratedChars(chunk);
                    await ServerSentEvents.WriteAsync(attempt.Response, attempt.Endpoint.ShapeChunk(chunk), clientGone);
                }
                more = await items.MoveNextAsync();
            }
        }
        catch (ProviderException e)
        {
            failure = e;
        }
        catch (Exception e) when (clientGone.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            outcome = "client_disconnected";
        }

        // Charge what was generated: the provider's own count when it gave one, else counted from the text sent.
        usage ??= new TokenUsage(attempt.PromptEstimate, TokenEstimator.FromChars(generatedChars));
        long charged;
        try
        {
            charged = await SettleAsync(attempt, usage, streamed: true, failure is null ? outcome : "provider_failed_mid_stream");
        }
        catch (Exception e)
        {
            logger.LogError(e, "charge for streamed {RequestId} not recorded", attempt.Authorized.RequestId);
            if (!clientGone.IsCancellationRequested)
                await TryWriteAsync(attempt, BillingUnavailable.ToJson());
            return;
        }
        if (clientGone.IsCancellationRequested)
            return;

        var call = attempt.Call;
        if (call.Request.IncludeUsage)
            await TryWriteAsync(attempt, attempt.Endpoint.ShapeChunk(UsageChunk(call, usage)));
        await TryWriteAsync(attempt, attempt.Endpoint.ShapeChunk(CreditsChunk(call, charged)));
        if (failure is not null)
            await TryWriteAsync(attempt, failure.ToApiError().ToJson());
        try
        {
            await ServerSentEvents.WriteDoneAsync(attempt.Response, clientGone);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
    }

    private async Task<long> SettleAsync(Attempt attempt, TokenUsage usage, bool streamed, string outcome)
    {
        var authorized = attempt.Authorized;
        var served = new RequestServed(
            authorized.RequestId, authorized.Key.WorkspaceId, authorized.Key.KeyId, authorized.Key.MemberId,
            attempt.Endpoint.Name, attempt.Call.Request.Model, attempt.Model.Slug, attempt.Model.Provider.Name,
            usage.PromptTokens, usage.CachedTokens, usage.CacheWriteTokens, usage.CompletionTokens,
            RequestBilling.ElapsedMs(authorized), StatusCodes.Status200OK, streamed, outcome, clock.GetUtcNow());
        return await billing.SettleAsync(authorized, attempt.Reservation, served, Pricing.Cost(usage, attempt.Model.Prices));
    }

    private async Task FailAsync(Attempt attempt, ApiError error)
    {
        await billing.FailAsync(attempt.Authorized, attempt.Reservation, attempt.Endpoint.Name, attempt.Call.Request.Model, error);
        await error.WriteAsync(attempt.Response);
    }

    private static void SetModelHeader(Attempt attempt) => attempt.Response.Headers["x-model-used"] = attempt.Model.Slug;

    private static void SetCostHeaders(Attempt attempt, long charged)
    {
        SetModelHeader(attempt);
        attempt.Response.Headers["x-credits-used"] = MicroCredits.Format(charged);
    }

    private static async Task TryWriteAsync(Attempt attempt, JsonObject data)
    {
        try
        {
            await ServerSentEvents.WriteAsync(attempt.Response, data, attempt.Http.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
    }

    private static readonly ApiError BillingUnavailable = new(503,
        "The request was served but its charge could not be recorded, so its result is withheld. Retry shortly.",
        "server_error", null, "billing_unavailable");

    private static JsonObject UsageChunk(ChatCall call, TokenUsage usage) => new()
    {
        ["id"] = call.ResponseId,
        ["object"] = "chat.completion.chunk",
        ["created"] = call.Created,
        ["model"] = call.Model.Slug,
        ["choices"] = new JsonArray(),
        ["usage"] = new JsonObject
        {
            ["prompt_tokens"] = usage.PromptTokens,
            ["completion_tokens"] = usage.CompletionTokens,
            ["total_tokens"] = usage.TotalTokens,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.CachedTokens },
        },
    };

    private static JsonObject CreditsChunk(ChatCall call, long charged) => new()
    {
        ["id"] = call.ResponseId,
        ["object"] = "chat.completion.chunk",
        ["created"] = call.Created,
        ["model"] = call.Model.Slug,
        ["choices"] = new JsonArray(),
        ["credits_used"] = MicroCredits.Format(charged),
    };

    /// <summary>Characters of content and tool-call arguments in a chunk: what the client received, for charging a cut-off stream.</summary>
    private static long GeneratedChars(JsonObject chunk)
    {
        if (chunk["choices"] is not JsonArray choices)
            return 0;
        long chars = 0;
        foreach (var choice in choices)
        {
            if (choice?["delta"] is not JsonObject delta)
                continue;
            if (delta["content"] is JsonValue content && content.TryGetValue<string>(out var text))
                chars += text.Length;
            if (delta["tool_calls"] is JsonArray calls)
                foreach (var toolCall in calls)
                    if (toolCall?["function"]?["arguments"] is JsonValue args && args.TryGetValue<string>(out var piece))
                        chars += piece.Length;
        }
        return chars;
    }
}
