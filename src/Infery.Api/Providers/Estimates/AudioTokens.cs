using Infery.Api.Chat;

namespace Infery.Api.Providers.Estimates;

/// <summary>Input tokens of an audio clip, by how long it plays.</summary>
internal static class AudioTokens
{
    /// <summary>Gemini counts 32 tokens a second, the most of the providers (OpenAI counts about 10).</summary>
    public const int PerSecond = 32;

    public static int Estimate(AudioPart audio) => ForSeconds(AudioDuration.Seconds(audio.Data, audio.Format));

    /// <summary>Rounded up, and at least one token for any clip.</summary>
    public static int ForSeconds(double seconds) => (int)Math.Clamp(Math.Ceiling(seconds * PerSecond), 1, int.MaxValue);
}
