using System.Globalization;
using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Gateway.Billing;
using Infery.Api.Gateway.Fallbacks;
using Infery.Api.Gateway.Idempotency;
using Infery.Api.Gateway.Resilience;
using Infery.Api.Http;
using Infery.Api.Providers;
using Infery.Api.Providers.Pdf;
using Infery.Domain.Credits;
using Infery.Domain.Fallbacks;
using Infery.Domain.Requests;
using Microsoft.Extensions.Options;

namespace Infery.Api.Gateway;

/// <summary>
/// How one endpoint names and shapes what the chat pipeline produces. Without shaping functions, completions
/// and chunks go out as the providers made them, UTF-8 byte for byte when that is how they came.
/// </summary>
public sealed record ChatEndpoint(string Name, string IdPrefix, Func<JsonObject, JsonObject>? ShapeCompletion, Func<JsonObject, JsonObject>? ShapeChunk)
{
    public static readonly ChatEndpoint ChatCompletions = new("chat.completions", "chatcmpl-", null, null);

    public static readonly ChatEndpoint Completions = new("completions", "cmpl-", LegacyCompletions.ToTextCompletion, LegacyCompletions.ToTextCompletionChunk);
}

/// <summary>
/// A validated chat request from model lookup to the last byte: check the model can take it, reserve the
/// worst case of its whole fallback chain, call the provider (falling back while nothing has reached the
/// client), settle from real usage, and only then tell the client its cost — in x-credits-used, or on
/// streams in a credits_used chunk just before [DONE].
/// </summary>
public sealed class ChatPipeline(
    ModelCatalog catalog,
    ProviderRegistry providers,
    FallbackChains fallbackChains,
    FallbackRouter router,
    RequestBilling billing,
    TimeProvider clock,
    ShutdownDrain drain,
    PdfConverter pdfConverter,
    IOptions<PdfConversionOptions> pdfOptions,
    ILogger<ChatPipeline> logger)
{
    private readonly long pricePerPdfPage = MicroCredits.TryParse(pdfOptions.Value.PricePerPage, out var price) && price >= 0
        ? price
        : throw new InvalidOperationException($"{PdfConversionOptions.Section}:PricePerPage must be a non-negative amount of credits with at most six decimal places.");

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
        var chain = await ChainAsync(authorized, request, model, http.RequestAborted);
        PdfAttachments? pdfs;
        try
        {
            pdfs = await PdfAttachments.InspectAsync(request, chain, pdfConverter, http.RequestAborted, drain.GraceOver);
        }
        catch (PdfConversionException e)
        {
            await e.Error.WriteAsync(http.Response);
            return;
        }
        catch (OperationCanceledException) when (Stopping && !http.RequestAborted.IsCancellationRequested)
        {
            await ShuttingDown.WriteAsync(http.Response);
            return;
        }
        request = pdfs?.Request ?? request;

        // The reservation covers the dearest model that may serve, so a fallback never spends beyond it.
        var promptEstimate = TokenEstimator.EstimatePrompt(request);
        var worstCase = chain.Max(m =>
            Pricing.WorstCase(PromptEstimateFor(m, request, promptEstimate), request.MaxTokens ?? m.MaxOutputTokens, request.N, m.Prices)
            + PdfConversionCost(pdfs, m));
        var (reservation, refused) = await billing.ReserveAsync(authorized, worstCase, http.RequestAborted);
        if (reservation is null)
        {
            await refused!.WriteAsync(http.Response);
            return;
        }

        try
        {
            var call = new ChatCall(request, model, endpoint.IdPrefix + Guid.NewGuid().ToString("N")[..24], clock.GetUtcNow().ToUnixTimeSeconds());
            var attempt = new Attempt(http, authorized, reservation, call, chain, endpoint, promptEstimate, pdfs);
            if (pdfs is { NeedsConversion: true } && !await ConvertPdfsAsync(attempt, pdfs))
                return;
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

    /// <summary>The requested model, then the fallbacks of its chain that can take this request.</summary>
    private async Task<IReadOnlyList<CatalogModel>> ChainAsync(AuthorizedRequest authorized, ChatRequest request, CatalogModel requested, CancellationToken ct)
    {
        var fallbacks = (await fallbackChains.ForAsync(authorized.Key.WorkspaceId, requested.Slug, ct)).Fallbacks;
        if (fallbacks.Count == 0)
            return [requested];
        var chain = new List<CatalogModel>(fallbacks.Count + 1) { requested };
        foreach (var slug in fallbacks)
            if (catalog.TryGet(slug, out var fallback) && CapabilityCheck.Check(request, fallback) is null)
                chain.Add(fallback);
        return chain;
    }

    /// <summary>The request on its way; <see cref="Call"/> names the requested model until a provider served it, then the model that did.</summary>
    private sealed record Attempt(
        HttpContext Http, AuthorizedRequest Authorized, Reservation Reservation, ChatCall Call, IReadOnlyList<CatalogModel> Chain,
        ChatEndpoint Endpoint, int PromptEstimate, PdfAttachments? Pdfs)
    {
        public IReadOnlyList<FallbackFired> Fallbacks { get; init; } = [];

        /// <summary>The failed upstream calls and fallbacks on the way to the model that serves, recorded with the charge.</summary>
        public IReadOnlyList<object> Route { get; init; } = [];
        public CatalogModel Model => Call.Model;
        public HttpResponse Response => Http.Response;
    }

    private Task<RoutedCall<T>> RouteAsync<T>(Attempt attempt, Func<ChatCall, CancellationToken, Task<T>> call, CancellationToken ct) where T : class =>
        router.RunAsync(attempt.Authorized.RequestId, attempt.Authorized.Key.WorkspaceId, attempt.Call, attempt.Chain, call, ct);

    private async Task CompleteAsync(Attempt attempt)
    {
        // Not tied to the client's connection: a provider that is generating is paid for, so the request runs to its
        // end, or to the end of the grace a stopping gateway gives the requests in flight.
        var routed = await RouteAsync(attempt,
            (call, ct) => providers.For(call.Model.Provider).CompleteAsync(AsModelReadsIt(call, attempt.Pdfs), ct), drain.GraceOver);
        if (routed.Value is not { } result)
        {
            await FailAsync(attempt, Stopping || routed.CutShort ? ShuttingDown : routed.Error!, routed.Route);
            return;
        }
        attempt = attempt with { Call = routed.Served!, Fallbacks = routed.Fallbacks, Route = routed.Route };

        long charged;
        try
        {
            charged = (await SettleAsync(attempt, result.Usage, streamed: false, "completed")).Charged;
        }
        catch (Exception e)
        {
            logger.LogError(e, "charge for {RequestId} not recorded; answering 503", attempt.Authorized.RequestId);
            await BillingUnavailable.WriteAsync(attempt.Response);
            return;
        }

        SetCostHeaders(attempt, charged);
        var body = Shape(result.Completion, attempt.Endpoint.ShapeCompletion);
        attempt.Response.ContentType = "application/json";
        // An answer whose bytes are known goes out with its length rather than in chunks.
        if (body.Object is null)
            attempt.Response.ContentLength = body.Utf8.Length;
        body.WriteTo(attempt.Response.BodyWriter);
    }

    /// <summary>
    /// Converts the request's PDFs for the models of its chain that cannot read them, once its credits are reserved.
    /// False when the request ends here: a PDF could not be converted, the client left, or the gateway's grace ended.
    /// </summary>
    private async Task<bool> ConvertPdfsAsync(Attempt attempt, PdfAttachments pdfs)
    {
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(attempt.Http.RequestAborted, drain.GraceOver);
        try
        {
            await pdfs.ConvertAsync(pdfConverter, cut.Token);
            return true;
        }
        catch (PdfConversionException e)
        {
            await e.Error.WriteAsync(attempt.Response);
        }
        catch (OperationCanceledException) when (attempt.Http.RequestAborted.IsCancellationRequested)
        {
            await ClientLeftAsync(attempt);
        }
        catch (OperationCanceledException) when (Stopping)
        {
            await FailAsync(attempt, ShuttingDown, []);
        }
        return false;
    }

    /// <summary>The client hung up before anything was sent: recorded as a failure, and its idempotency key let go.</summary>
    private async Task ClientLeftAsync(Attempt attempt, IReadOnlyList<object>? route = null)
    {
        IdempotencyKeys.DoNotKeep(attempt.Http);
        await billing.FailAsync(attempt.Authorized, attempt.Reservation, attempt.Endpoint.Name, attempt.Call.Request.Model,
            new ApiError(499, "The client closed the connection before the first byte.", "client_closed", null, "client_disconnected"), route);
    }

    /// <summary>A stream whose provider produced its first item; <see cref="More"/> is false when that was already the end.</summary>
    private sealed record StartedStream(IAsyncEnumerator<ChatStreamItem> Items, bool More);

    private async Task<StartedStream> StartStreamAsync(ChatCall call, CancellationToken ct)
    {
        var items = providers.For(call.Model.Provider).StreamAsync(call, ct).GetAsyncEnumerator(ct);
        try
        {
            return new StartedStream(items, await items.MoveNextAsync());
        }
        catch
        {
            await items.DisposeAsync();
            throw;
        }
    }

    private async Task StreamAsync(Attempt attempt)
    {
        var http = attempt.Http;
        var clientGone = http.RequestAborted;
        using var upstream = CancellationTokenSource.CreateLinkedTokenSource(clientGone, drain.GraceOver);

        // Nothing is sent until a provider produced its first item, so an upstream that fails at once
        // still gets a proper status code, or is replaced by the next model of the chain.
        var routed = await RouteAsync(attempt, (call, ct) => StartStreamAsync(AsModelReadsIt(call, attempt.Pdfs), ct), upstream.Token);
        if (routed.CutShort && clientGone.IsCancellationRequested)
        {
            await ClientLeftAsync(attempt, routed.Route);
            return;
        }
        if (routed.Value is not { } started)
        {
            await FailAsync(attempt, Stopping || routed.CutShort ? ShuttingDown : routed.Error!, routed.Route);
            return;
        }
        attempt = attempt with { Call = routed.Served!, Fallbacks = routed.Fallbacks, Route = routed.Route };
        await using var items = started.Items;
        var more = started.More;

        ServerSentEvents.Start(attempt.Response);
        SetModelHeaders(attempt);
        TokenUsage? usage = null;
        long receivedChars = 0;
        var outcome = "completed";
        ApiError? cutShort = null;
        try
        {
            while (more)
            {
                var item = items.Current;
                if (item.Usage is { } reported)
                    usage = reported;
                if (item.Chunk is { } chunk)
                {
                    receivedChars += chunk.ReceivedChars;
                    ServerSentEvents.WriteChunk(attempt.Response, Shape(chunk, attempt.Endpoint.ShapeChunk));
                }
                var next = items.MoveNextAsync();
                if (ServerSentEvents.SendBefore(attempt.Response, next))
                    await ServerSentEvents.FlushWhileAwaitingAsync(attempt.Response, next, clientGone);
                more = await next;
            }
            // The client has every chunk before the charge is written.
            await attempt.Response.BodyWriter.FlushAsync(clientGone);
        }
        catch (ProviderException e) when (!Stopping)
        {
            outcome = "provider_failed_mid_stream";
            cutShort = e.ToApiError();
        }
        catch (Exception e) when (clientGone.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            outcome = "client_disconnected";
        }
        catch (Exception e) when (Stopping && e is OperationCanceledException or ProviderException)
        {
            // A cancelled read of the upstream can surface as a broken connection. What the client already has is
            // charged, like any stream cut short.
            outcome = "gateway_shutdown";
            cutShort = ShuttingDown;
        }

        if (outcome != "completed")
            IdempotencyKeys.DoNotKeep(http);
        usage = ChargeableUsage(usage, ranToEnd: outcome == "completed", attempt, receivedChars);
        Settlement settled;
        try
        {
            settled = await SettleAsync(attempt, usage, streamed: true, outcome);
        }
        catch (Exception e)
        {
            logger.LogError(e, "charge for streamed {RequestId} not recorded", attempt.Authorized.RequestId);
            IdempotencyKeys.DoNotKeep(http);
            if (!clientGone.IsCancellationRequested)
            {
                ServerSentEvents.WriteChunk(attempt.Response, BillingUnavailable.ToJson());
                await TryFlushAsync(attempt);
            }
            return;
        }
        if (clientGone.IsCancellationRequested)
            return;

        // An owed charge ends the stream as a recorded one would, marked pending: an error here would make clients
        // retry a request they were served, and be charged twice once the first charge lands.
        // The client reads its cost even from a stream cut short: the error chunk comes after it, since SDKs raise at one.
        ServerSentEvents.WriteChunk(attempt.Response, Shape(FinalChunk(attempt.Call, usage, settled), attempt.Endpoint.ShapeChunk));
        if (cutShort is not null)
            ServerSentEvents.WriteChunk(attempt.Response, cutShort.ToJson());
        ServerSentEvents.WriteDone(attempt.Response);
        await TryFlushAsync(attempt);
    }

    /// <summary>
    /// Charge what was generated. A stream that ran to its end is charged by the provider's final count; one cut
    /// short by the provider's count so far, but never for less output than the text the client received; one the
    /// provider never counted, by the prompt as estimated for its model and the text received.
    /// </summary>
    private static TokenUsage ChargeableUsage(TokenUsage? reported, bool ranToEnd, Attempt attempt, long receivedChars)
    {
        var received = TokenEstimator.FromChars(receivedChars);
        if (reported is null)
            return new TokenUsage(PromptEstimateFor(attempt.Model, attempt.Call.Request, attempt.PromptEstimate), received);
        return ranToEnd ? reported : reported with { CompletionTokens = Math.Max(reported.CompletionTokens, received) };
    }

    private async Task<Settlement> SettleAsync(Attempt attempt, TokenUsage usage, bool streamed, string outcome)
    {
        var authorized = attempt.Authorized;
        var pagesConverted = ConvertsPdfs(attempt.Pdfs, attempt.Model) ? attempt.Pdfs!.Pages : 0;
        var served = new RequestServed(
            authorized.RequestId, authorized.Key.WorkspaceId, authorized.Key.KeyId, authorized.Key.MemberId,
            attempt.Endpoint.Name, attempt.Call.Request.Model, attempt.Model.Slug, attempt.Model.Provider.Name,
            usage.PromptTokens, usage.CachedTokens, usage.CacheWriteTokens, usage.CompletionTokens,
            RequestBilling.ElapsedMs(authorized), StatusCodes.Status200OK, streamed, outcome, clock.GetUtcNow(), pagesConverted);
        var cost = Pricing.Cost(usage, attempt.Model.Prices) + PdfConversionCost(attempt.Pdfs, attempt.Model);
        return await billing.SettleAsync(authorized, attempt.Reservation, served, cost, attempt.Route, delivered: streamed);
    }

    /// <summary>The prompt as <paramref name="model"/> counts it: the common estimate, unless it counts the request's images higher.</summary>
    private static int PromptEstimateFor(CatalogModel model, ChatRequest request, int commonEstimate) =>
        model.ImageTokenFactor == 1 || !TokenEstimator.HasImagesOrFiles(request) ? commonEstimate : TokenEstimator.EstimatePrompt(request, model.ImageTokenFactor);

    private static bool ConvertsPdfs(PdfAttachments? pdfs, CatalogModel model) => pdfs is not null && !model.Capabilities.Pdf;

    /// <summary>The per-page price of the PDFs converted for a model that cannot read them itself.</summary>
    private long PdfConversionCost(PdfAttachments? pdfs, CatalogModel model) =>
        ConvertsPdfs(pdfs, model) ? checked(pdfs!.Pages * pricePerPdfPage) : 0;

    /// <summary>The call with its PDFs converted when its model cannot read them itself.</summary>
    private static ChatCall AsModelReadsIt(ChatCall call, PdfAttachments? pdfs) =>
        ConvertsPdfs(pdfs, call.Model) ? call with { Request = pdfs!.For(call.Model) } : call;

    private async Task FailAsync(Attempt attempt, ApiError error, IReadOnlyList<object> route)
    {
        await billing.FailAsync(attempt.Authorized, attempt.Reservation, attempt.Endpoint.Name, attempt.Call.Request.Model, error, route);
        await error.WriteAsync(attempt.Response);
    }

    /// <summary>What served, and when it was not the model asked for, which was and how many fallbacks it took.</summary>
    private static void SetModelHeaders(Attempt attempt)
    {
        var headers = attempt.Response.Headers;
        headers["x-model-used"] = attempt.Model.Slug;
        headers["x-fallback-depth"] = attempt.Fallbacks.Count.ToString(CultureInfo.InvariantCulture);
        if (attempt.Fallbacks.Count > 0)
            headers["x-fallback-from"] = attempt.Call.Request.Model;
    }

    private static void SetCostHeaders(Attempt attempt, long charged)
    {
        SetModelHeaders(attempt);
        attempt.Response.Headers["x-credits-used"] = MicroCredits.Format(charged);
    }

    /// <summary>A completion or chunk as the endpoint answers it; UTF-8 is parsed only for an endpoint that reshapes it.</summary>
    private static ChatJson Shape(ChatJson json, Func<JsonObject, JsonObject>? shape) => shape is null ? json : shape(json.ToObject());

    private static async Task TryFlushAsync(Attempt attempt)
    {
        try
        {
            await attempt.Response.BodyWriter.FlushAsync(attempt.Http.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
    }

    /// <summary>Upstream calls still running when a stopping gateway's grace ends are cancelled; whatever they fail with then is the shutdown.</summary>
    private bool Stopping => drain.IsOver;

    private static readonly ApiError ShuttingDown = new(503,
        "The gateway is shutting down; retry the request.", "server_error", null, "gateway_shutting_down");

    private static readonly ApiError BillingUnavailable = new(503,
        "The request was served but its charge could not be recorded, so its result is withheld. Retry shortly.",
        "server_error", null, "billing_unavailable", RetryAfterSeconds: 1);

    /// <summary>
    /// The last chunk before [DONE]: no choices, the usage charged for when the client asked for it
    /// (<c>stream_options.include_usage</c>, where OpenAI sends the same chunk), and the credits charged.
    /// </summary>
    private static JsonObject FinalChunk(ChatCall call, TokenUsage usage, Settlement settled)
    {
        var chunk = new JsonObject
        {
            ["id"] = call.ResponseId,
            ["object"] = "chat.completion.chunk",
            ["created"] = call.Created,
            ["model"] = call.Model.Slug,
            ["choices"] = new JsonArray(),
        };
        if (call.Request.IncludeUsage)
            chunk["usage"] = usage.ToOpenAiJson();
        chunk["credits_used"] = MicroCredits.Format(settled.Charged);
        if (!settled.Recorded)
            chunk["credits_pending"] = true;
        return chunk;
    }
}
