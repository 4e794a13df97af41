using Infery.Api.Chat;

namespace Infery.Api.Providers;

/// <summary>
/// A tokenizer-free estimate of token counts. The simulator reports it as its usage, and the gateway reserves
/// credit by it before a call and falls back to it when an upstream reports no usage. It leans high on
/// purpose: a reservation that is too small lets spending run past a balance.
/// </summary>
public static class TokenEstimator
{
    /// <summary>English text averages about four characters per token in the GPT and Claude tokenizers.</summary>
    public const int CharsPerToken = 4;

    /// <summary>Role marker and separators that chat templates wrap around every message.</summary>
    public const int TokensPerMessage = 4;

    /// <summary>The assistant turn's opening that every prompt ends with.</summary>
    public const int TokensPerPrompt = 3;

    /// <summary>A square image at OpenAI's high detail: 85 base tokens plus 170 for each of four 512-pixel tiles.</summary>
    public const int TokensPerImage = 765;

    /// <summary>An image sent with detail "low": OpenAI's flat base cost.</summary>
    public const int TokensPerLowDetailImage = 85;

    /// <summary>About a minute of input audio.</summary>
    public const int TokensPerAudio = 1_000;

    /// <summary>A document of a few pages (PDFs are read as text plus one image per page).</summary>
    public const int TokensPerFile = 2_000;

    /// <summary>Tokens of a text: characters divided by four, rounded up.</summary>
    public static int Count(string? text) => text is null ? 0 : FromChars(text.Length);

    /// <summary>Tokens of a text of this many characters, rounded up so any text costs at least one.</summary>
    public static int FromChars(long chars) => (int)Math.Min(int.MaxValue, (chars + CharsPerToken - 1) / CharsPerToken);

    /// <summary>Everything the upstream reads: messages with their parts and tool calls, tool definitions and the output schema.</summary>
    public static int EstimatePrompt(ChatRequest request)
    {
        long chars = 0;
        var fixedTokens = TokensPerPrompt;
        foreach (var message in request.Messages)
        {
            fixedTokens += TokensPerMessage;
            chars += message.Name?.Length ?? 0;
            foreach (var part in message.Content)
            {
                switch (part)
                {
                    case TextPart text:
                        chars += text.Text.Length;
                        break;
                    case ImagePart image:
                        fixedTokens += image.Detail == "low" ? TokensPerLowDetailImage : TokensPerImage;
                        break;
                    case AudioPart:
                        fixedTokens += TokensPerAudio;
                        break;
                    case FilePart:
                        fixedTokens += TokensPerFile;
                        break;
                }
            }
            foreach (var call in message.ToolCalls ?? [])
                chars += call.Name.Length + call.Arguments.Length;
        }
        foreach (var tool in request.Tools)
        {
            chars += tool.Name.Length + (tool.Description?.Length ?? 0);
            if (tool.Parameters is not null)
                chars += tool.Parameters.ToJsonString().Length;
        }
        if (request.ResponseFormat?.Schema is { } schema)
            chars += schema.ToJsonString().Length;
        return (int)Math.Min(int.MaxValue, fixedTokens + (long)FromChars(chars));
    }
}
