namespace Infery.Api.Catalog;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>Registers the <see cref="ModelCatalog"/> read from INFERY_CATALOG, else catalog.json in the content root.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services) =>
        services.AddSingleton(sp =>
        {
            // Configuration includes the environment, and also settings given to the host (as tests do).
            var configuration = sp.GetService<IConfiguration>();
            var path = CatalogLoader.ResolvePath(sp.GetRequiredService<IHostEnvironment>().ContentRootPath,
                name => configuration?[name] ?? Environment.GetEnvironmentVariable(name));
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ModelCatalog));
            return CatalogLoader.LoadFile(path, logger);
        });
}
