using System.Collections.Immutable;
using Infery.Domain.Workspaces;

namespace Infery.Domain.Fallbacks;

public abstract record FallbackChainCommand(string Model);

/// <param name="ServedModels">Every slug the gateway serves: a chain may only name those.</param>
public sealed record SetFallbackChain(string Model, IReadOnlyList<string> Fallbacks, IReadOnlySet<string> ServedModels, string By)
    : FallbackChainCommand(Model);

public sealed record ClearFallbackChain(string Model, string By) : FallbackChainCommand(Model);

/// <summary>The workspace stream as the fallback rules see it: does the workspace exist, and which chains has it set.</summary>
public sealed record FallbackChainsState(string? WorkspaceId, ImmutableDictionary<string, IReadOnlyList<string>> Chains)
{
    public static readonly FallbackChainsState Initial = new(null, ImmutableDictionary<string, IReadOnlyList<string>>.Empty);
}

/// <summary>A workspace's own fallback chains, decided on the workspace stream beside its other events.</summary>
public static class FallbackChain
{
    public const int MaxLength = 5;

    public static IReadOnlyList<object> Decide(FallbackChainsState state, FallbackChainCommand command, DateTimeOffset now)
    {
        if (state.WorkspaceId is not { } workspaceId)
            throw new DomainException("workspace_not_found", "No such workspace.");
        switch (command)
        {
            case SetFallbackChain set:
                var fallbacks = Validate(set);
                if (state.Chains.TryGetValue(set.Model, out var current) && current.SequenceEqual(fallbacks, StringComparer.Ordinal))
                    return [];
                return [new FallbackChainSet(workspaceId, set.Model, fallbacks, set.By, now)];
            case ClearFallbackChain clear:
                return state.Chains.ContainsKey(clear.Model) ? [new FallbackChainCleared(workspaceId, clear.Model, clear.By, now)] : [];
            default:
                throw new ArgumentOutOfRangeException(nameof(command), command, "unknown fallback chain command");
        }
    }

    public static FallbackChainsState Evolve(FallbackChainsState state, object @event) => @event switch
    {
        WorkspaceCreated e => state with { WorkspaceId = e.WorkspaceId },
        FallbackChainSet e => state with { Chains = state.Chains.SetItem(e.Model, e.Fallbacks) },
        FallbackChainCleared e => state with { Chains = state.Chains.Remove(e.Model) },
        _ => state,
    };

    private static IReadOnlyList<string> Validate(SetFallbackChain set)
    {
        if (!set.ServedModels.Contains(set.Model))
            throw new DomainException("model_not_found", $"The model '{set.Model}' is not served by this gateway.", "model");
        if (set.Fallbacks.Count > MaxLength)
            throw new DomainException("fallback_chain_too_long", $"fallbacks may name at most {MaxLength} models.", "fallbacks");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fallback in set.Fallbacks)
        {
            if (!set.ServedModels.Contains(fallback))
                throw new DomainException("unknown_fallback_model", $"fallbacks names '{fallback}', which this gateway does not serve.", "fallbacks");
            if (fallback == set.Model)
                throw new DomainException("fallback_to_self", $"'{set.Model}' cannot fall back to itself.", "fallbacks");
            if (!seen.Add(fallback))
                throw new DomainException("duplicate_fallback", $"fallbacks names '{fallback}' twice.", "fallbacks");
        }
        return set.Fallbacks.ToArray();
    }
}
