using Infery.Api.Catalog;
using Infery.Api.Providers;
using Infery.Domain.Credits;

namespace Infery.Api.Gateway.Billing;

/// <summary>Micro-credits for usage at a model's prices: each token bucket at its own rate, rounded up once.</summary>
public static class Pricing
{
    /// <summary>Headroom on the prompt estimate, so a provider counting a few more tokens than we guessed still fits the reservation.</summary>
    private const double PromptMargin = 1.25;
    private const int PromptSlackTokens = 64;

    public static long Cost(TokenUsage usage, ModelPrices prices) =>
        MicroCredits.FromScaled(
            MicroCredits.Scaled(Math.Max(0, usage.UncachedPromptTokens), prices.InputPerMillion)
            + MicroCredits.Scaled(usage.CachedTokens, prices.CachedInputPerMillion)
            + MicroCredits.Scaled(usage.CacheWriteTokens, prices.CacheWritePerMillion)
            + MicroCredits.Scaled(usage.CompletionTokens, prices.OutputPerMillion));

    /// <summary>The most a request can cost: every prompt token at the dearest input rate, every allowed output token, for each choice.</summary>
    public static long WorstCase(int promptEstimate, int maxOutputTokens, int choices, ModelPrices prices)
    {
        var prompt = (long)(promptEstimate * PromptMargin) + PromptSlackTokens;
        var inputRate = Math.Max(prices.InputPerMillion, Math.Max(prices.CacheWritePerMillion, prices.CachedInputPerMillion));
        return MicroCredits.FromScaled(
            MicroCredits.Scaled(prompt, inputRate)
            + MicroCredits.Scaled((long)maxOutputTokens * Math.Max(1, choices), prices.OutputPerMillion));
    }
}
