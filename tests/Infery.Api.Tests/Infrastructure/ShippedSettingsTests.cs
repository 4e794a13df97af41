using Infery.Api.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Infery.Api.Tests.Infrastructure;

/// <summary>A gateway started from another directory still reads the settings shipped beside it.</summary>
public sealed class ShippedSettingsTests : IDisposable
{
    private readonly DirectoryInfo elsewhere = Directory.CreateTempSubdirectory("infery-cwd-");
    private readonly DirectoryInfo gateway = Directory.CreateTempSubdirectory("infery-app-");

    public ShippedSettingsTests() =>
        File.WriteAllText(Path.Combine(gateway.FullName, "appsettings.json"), """{"Shipped":"yes","Overridden":"shipped"}""");

    private static ConfigurationManager Configured() =>
        new() { Sources = { new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = [new("Overridden", "configured")] } } };

    [Fact]
    public void Started_elsewhere_the_shipped_settings_apply_under_everything_configured()
    {
        var configuration = Configured();

        GatewayHost.AddShippedSettings(configuration, elsewhere.FullName, gateway.FullName);

        configuration["Shipped"].ShouldBe("yes");
        configuration["Overridden"].ShouldBe("configured");
    }

    [Fact]
    public void Settings_in_the_content_root_are_the_only_ones_read()
    {
        File.WriteAllText(Path.Combine(elsewhere.FullName, "appsettings.json"), "{}");
        var configuration = Configured();

        GatewayHost.AddShippedSettings(configuration, elsewhere.FullName, gateway.FullName);

        configuration["Shipped"].ShouldBeNull();
    }

    public void Dispose()
    {
        elsewhere.Delete(recursive: true);
        gateway.Delete(recursive: true);
    }
}
