namespace Infery.Api.Tests.Fixtures;

/// <summary>Waits for something the gateway does in the background.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, string because, int seconds = 30)
    {
        var giveUpAt = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!await condition())
        {
            DateTime.UtcNow.ShouldBeLessThan(giveUpAt, because);
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }
}
