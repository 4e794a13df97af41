namespace Infery.Api.Tests.Fixtures;

/// <summary>The checkout the tests run from.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Infery.sln")))
                return directory.FullName;
        }
        throw new DirectoryNotFoundException($"no Infery.sln above {AppContext.BaseDirectory}");
    }
}
