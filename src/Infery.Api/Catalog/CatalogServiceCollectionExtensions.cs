namespace Infery.Api.Catalog;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>Registers the <see cref="ModelCatalog"/> read from INFERY_CATALOG, else catalog.json in the content root.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services) =>
        services.AddSingleton(sp =>
        {
            var path = CatalogLoader.ResolvePath(sp.GetRequiredService<IHostEnvironment>().ContentRootPath);
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ModelCatalog));
            return CatalogLoader.LoadFile(path, logger);
        });
}
