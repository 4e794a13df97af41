using System.Diagnostics.CodeAnalysis;

namespace Infery.Api.Catalog;

/// <summary>The models this gateway serves, by slug. Built once at start-up by <see cref="CatalogLoader"/>.</summary>
public sealed class ModelCatalog
{
    private readonly Dictionary<string, CatalogModel> bySlug;
    private readonly Dictionary<string, IReadOnlyList<string>> fallbacks;
    private readonly Dictionary<string, long> created;

    /// <param name="models">The models to serve, in the order <see cref="All"/> lists them.</param>
    /// <param name="fallbacks">Per slug, the slugs to try when it fails; slugs not served are skipped.</param>
    /// <param name="created">Per slug, the unix time shown as the model's <c>created</c>; 0 when absent.</param>
    public ModelCatalog(
        IEnumerable<CatalogModel> models,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? fallbacks = null,
        IReadOnlyDictionary<string, long>? created = null)
    {
        All = models.ToArray();
        bySlug = new Dictionary<string, CatalogModel>(StringComparer.Ordinal);
        foreach (var model in All)
        {
            if (!bySlug.TryAdd(model.Slug, model))
                throw new ArgumentException($"The model slug '{model.Slug}' appears twice.", nameof(models));
        }
        this.fallbacks = fallbacks?.ToDictionary(StringComparer.Ordinal) ?? new(StringComparer.Ordinal);
        this.created = created?.ToDictionary(StringComparer.Ordinal) ?? new(StringComparer.Ordinal);
    }

    public IReadOnlyList<CatalogModel> All { get; }

    public bool TryGet(string slug, [MaybeNullWhen(false)] out CatalogModel model) => bySlug.TryGetValue(slug, out model);

    /// <summary>The fallback chain configured for a model in the catalog file, limited to models that are served.</summary>
    public IReadOnlyList<string> DefaultFallbacks(string slug) =>
        fallbacks.TryGetValue(slug, out var chain) ? chain.Where(bySlug.ContainsKey).ToArray() : [];

    /// <summary>Unix seconds shown as <c>created</c> in /v1/models.</summary>
    public long CreatedAt(string slug) => created.GetValueOrDefault(slug);
}
