using System.Buffers;
using System.Text;
using Infery.Api.Chat;
using Infery.Api.Providers.Estimates;

namespace Infery.Api.Providers;

/// <summary>
/// A tokenizer-free estimate of token counts. The simulator reports it as its usage, and the gateway reserves
/// credit by it before a call and falls back to it when an upstream reports no usage. It leans high on
/// purpose: the charge is capped at the reservation, so an estimate below what a provider counts under-bills.
/// Images, audio and files are measured by what their headers state, and counted by the provider that counts
/// them highest.
/// </summary>
public static class TokenEstimator
{
    /// <summary>English text averages about four characters per token in the GPT and Claude tokenizers.</summary>
    public const int CharsPerToken = 4;

    /// <summary>Role marker and separators that chat templates wrap around every message.</summary>
    public const int TokensPerMessage = 4;

    /// <summary>The assistant turn's opening that every prompt ends with.</summary>
    public const int TokensPerPrompt = 3;

    /// <summary>A value set, as the range searches (IndexOfAnyInRange and its kin) were seen to allocate on every call.</summary>
    private static readonly SearchValues<char> AsciiChars = SearchValues.Create(AllAscii());

    /// <summary>Tokens of a text: a token per four ASCII characters, rounded up, and one per any other character.</summary>
    public static int Count(string? text) => FromChars(Weight(text));

    /// <summary>Tokens of this many ASCII characters (or <see cref="Weight"/>), rounded up so any text costs at least one.</summary>
    public static int FromChars(long chars) => (int)Math.Min(int.MaxValue, (chars + CharsPerToken - 1) / CharsPerToken);

    /// <summary>
    /// The length of a text in ASCII characters' worth: each UTF-16 code unit outside ASCII weighs a whole token,
    /// as Chinese, Japanese and other non-Latin scripts come to about a token per character.
    /// </summary>
    public static long Weight(ReadOnlySpan<char> text) =>
        Ascii.IsValid(text) ? text.Length : text.Length + (CharsPerToken - 1) * (long)NonAsciiChars(text);

    /// <summary>Whether the request carries parts whose estimate depends on how a model counts images.</summary>
    public static bool HasImagesOrFiles(ChatRequest request)
    {
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var content = request.Messages[i].Content;
            for (var j = 0; j < content.Count; j++)
                if (content[j] is ImagePart or FilePart)
                    return true;
        }
        return false;
    }

    /// <summary>The longest prefix of a text that counts as at most <paramref name="maxTokens"/> tokens.</summary>
    public static string Truncate(string text, int maxTokens)
    {
        var budget = (long)maxTokens * CharsPerToken;
        if (Weight(text) <= budget)
            return text;
        var length = 0;
        for (long weight = 0; length < text.Length; length++)
        {
            weight += Weight(text.AsSpan(length, 1));
            if (weight > budget)
                break;
        }
        if (length > 0 && char.IsHighSurrogate(text[length - 1]))
            length--;
        return text[..length];
    }

    /// <summary>
    /// Everything the upstream reads: messages with their parts and tool calls, tool definitions and the output schema.
    /// <paramref name="imageTokenFactor"/> scales what images count, for a model that counts them above the common rules.
    /// </summary>
    public static int EstimatePrompt(ChatRequest request, double imageTokenFactor = 1)
    {
        long chars = 0;
        long fixedTokens = TokensPerPrompt;
        var messages = request.Messages;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            fixedTokens += TokensPerMessage;
            chars += Weight(message.Name);
            var content = message.Content;
            for (var j = 0; j < content.Count; j++)
            {
                switch (content[j])
                {
                    case TextPart text:
                        chars += Weight(text.Text);
                        break;
                    case ImagePart image:
                        fixedTokens += (long)Math.Ceiling(ImageTokens.Estimate(image) * imageTokenFactor);
                        break;
                    case AudioPart audio:
                        fixedTokens += AudioTokens.Estimate(audio);
                        break;
                    case FilePart file:
                        fixedTokens += FileTokens.Estimate(file, imageTokenFactor);
                        break;
                }
            }
            if (message.ToolCalls is { } calls)
                for (var j = 0; j < calls.Count; j++)
                    chars += Weight(calls[j].Name) + Weight(calls[j].Arguments);
        }
        var tools = request.Tools;
        for (var i = 0; i < tools.Count; i++)
        {
            chars += Weight(tools[i].Name) + Weight(tools[i].Description);
            if (tools[i].Parameters is { } parameters)
                chars += Weight(parameters.ToJsonString());
        }
        if (request.ResponseFormat?.Schema is { } schema)
            chars += Weight(schema.ToJsonString());
        return (int)Math.Min(int.MaxValue, fixedTokens + FromChars(chars));
    }

    /// <summary>Counted a run at a time, with vectorized searches, rather than a character at a time.</summary>
    private static int NonAsciiChars(ReadOnlySpan<char> text)
    {
        var count = 0;
        while (true)
        {
            var start = text.IndexOfAnyExcept(AsciiChars);
            if (start < 0)
                return count;
            text = text[start..];
            var end = text.IndexOfAny(AsciiChars);
            if (end < 0)
                return count + text.Length;
            count += end;
            text = text[end..];
        }
    }

    private static char[] AllAscii()
    {
        var chars = new char[128];
        for (var c = 0; c < chars.Length; c++)
            chars[c] = (char)c;
        return chars;
    }
}
