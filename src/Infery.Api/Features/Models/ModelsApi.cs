using System.Globalization;
using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Http;

namespace Infery.Api.Features.Models;

/// <summary>
/// GET /v1/models and GET /v1/models/{id}: OpenAI's model objects, plus the provider, capabilities,
/// limits and prices (credits per 1M tokens) of each model.
/// </summary>
public static class ModelsApi
{
    private const decimal MicroCreditsPerCredit = 1_000_000m;

    public static RouteGroupBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/v1/models");
        models.MapGet("", ListModels);
        // A catch-all, so slugs with a slash (org/model) can be looked up too.
        models.MapGet("/{**id}", GetModel);
        return models;
    }

    public static IResult ListModels(ModelCatalog catalog) =>
        TypedResults.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(catalog.All.Select(m => (JsonNode)ToResponse(m, catalog.CreatedAt(m.Slug))).ToArray()),
        });

    public static IResult GetModel(string id, ModelCatalog catalog) =>
        catalog.TryGet(id, out var model)
            ? TypedResults.Json(ToResponse(model, catalog.CreatedAt(model.Slug)))
            : ApiError.ModelNotFound(id).ToResult();

    public static JsonObject ToResponse(CatalogModel model, long created)
    {
        var capabilities = model.Capabilities;
        return new JsonObject
        {
            ["id"] = model.Slug,
            ["object"] = "model",
            ["created"] = created,
            ["owned_by"] = model.OwnedBy,
            ["provider"] = model.Provider.Name,
            ["context_window"] = model.ContextWindow,
            ["max_output_tokens"] = model.MaxOutputTokens,
            ["capabilities"] = new JsonObject
            {
                ["supportsVision"] = capabilities.Vision,
                ["supportsPdf"] = capabilities.Pdf,
                ["supportsTools"] = capabilities.Tools,
                ["supportsJsonSchema"] = capabilities.JsonSchema,
                ["supportsAudioInput"] = capabilities.AudioInput,
                ["input_modalities"] = new JsonArray(capabilities.InputModalities.Select(m => (JsonNode?)m).ToArray()),
                ["output_modalities"] = new JsonArray(capabilities.OutputModalities.Select(m => (JsonNode?)m).ToArray()),
            },
            ["pricing"] = new JsonObject
            {
                ["input"] = Credits(model.Prices.InputPerMillion),
                ["cached_input"] = Credits(model.Prices.CachedInputPerMillion),
                ["cache_write"] = Credits(model.Prices.CacheWritePerMillion),
                ["output"] = Credits(model.Prices.OutputPerMillion),
            },
        };
    }

    /// <summary>Micro-credits as credits with 6 decimals: 420 → "0.000420".</summary>
    private static string Credits(long microCredits) =>
        (microCredits / MicroCreditsPerCredit).ToString("0.000000", CultureInfo.InvariantCulture);
}
