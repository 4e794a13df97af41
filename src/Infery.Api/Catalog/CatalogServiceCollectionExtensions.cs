namespace Infery.Api.Catalog;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="ModelCatalog"/> read from INFERY_CATALOG, else catalog.json in the content root or beside the gateway.
    /// The setting is read through configuration, which includes the environment, like INFERY_DB.
    /// </summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services) =>
        services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            var path = CatalogLoader.ResolvePath(sp.GetRequiredService<IHostEnvironment>().ContentRootPath, name => configuration[name]);
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ModelCatalog));
            return CatalogLoader.LoadFile(path, logger);
        });
}
