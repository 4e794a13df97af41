using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Infery.Api.Providers.OpenAiCompatible;

/// <summary>What an upstream chat.completion body or chunk held, noted while it was read.</summary>
internal struct UpstreamJson
{
    /// <summary>False when the JSON is valid but not an object; then nothing else was read.</summary>
    public bool IsObject { get; set; }

    /// <summary>It has an error property that is not null.</summary>
    public bool HasError { get; set; }

    /// <summary>The counts of its usage object, if it has one.</summary>
    public TokenUsage? Usage { get; set; }

    /// <summary>How many choices it has; null when choices is missing or not an array.</summary>
    public int? ChoiceCount { get; set; }

    /// <summary>Some choice has a finish_reason other than null.</summary>
    public bool Finished { get; set; }

    /// <summary>Characters of content, refusals, reasoning, tool names and tool arguments in its messages or deltas.</summary>
    public long GeneratedChars { get; set; }

    /// <summary>Characters of content and tool arguments alone, as <see cref="ChatJson.ReceivedChars"/> counts them.</summary>
    public long ReceivedChars { get; set; }

    /// <summary>The gateway's version, when it was written: valid until the rewriter writes again.</summary>
    public ReadOnlyMemory<byte> Rewritten { get; set; }
}

/// <summary>
/// Turns an OpenAI-compatible upstream's chat.completion bodies and chunks into the gateway's, from UTF-8 to
/// UTF-8 without building JSON objects: the gateway's id, created and model replace the upstream's where they
/// stood, or follow everything else when they were missing, and every other top-level property is copied
/// as it came, byte for byte but for line breaks between tokens. Reading, it notes what the provider needs
/// (<see cref="UpstreamJson"/>). One rewriter serves one call and writes every result into the same buffer.
/// </summary>
internal sealed class OpenAiJsonRewriter : IDisposable
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText Created = JsonEncodedText.Encode("created");
    private static readonly JsonEncodedText Model = JsonEncodedText.Encode("model");
    private static readonly JsonEncodedText Usage = JsonEncodedText.Encode("usage");
    private static readonly JsonEncodedText PromptTokens = JsonEncodedText.Encode("prompt_tokens");
    private static readonly JsonEncodedText CompletionTokens = JsonEncodedText.Encode("completion_tokens");
    private static readonly JsonEncodedText TotalTokens = JsonEncodedText.Encode("total_tokens");

    private readonly ChatCall call;
    private readonly ArrayBufferWriter<byte> output;
    private readonly Utf8JsonWriter writer;
    private UpstreamJson found;

    public OpenAiJsonRewriter(ChatCall call, int initialCapacity = 1024)
    {
        this.call = call;
        output = new ArrayBufferWriter<byte>(initialCapacity);
        writer = new Utf8JsonWriter(output, WriterOptions);
    }

    /// <summary>A stream chunk, rewritten without its usage.</summary>
    public UpstreamJson RewriteChunk(ReadOnlySpan<byte> chunk) => Read(chunk, "delta"u8, Writing.Chunk, estimate: null);

    /// <summary>A completion body, only read: what it holds decides the usage it goes out with.</summary>
    public UpstreamJson ReadCompletion(ReadOnlySpan<byte> body) => Read(body, "message"u8, Writing.Nothing, estimate: null);

    /// <summary>
    /// A completion body, rewritten. Without an <paramref name="estimate"/>, its usage is kept; with one, the
    /// estimate takes the place of a usage that is not an object, or follows everything else when there was none.
    /// </summary>
    public ReadOnlyMemory<byte> RewriteCompletion(ReadOnlySpan<byte> body, TokenUsage? estimate) =>
        Read(body, "message"u8, Writing.Completion, estimate).Rewritten;

    private enum Writing
    {
        Nothing,
        Chunk,
        Completion,
    }

    private enum TopLevel
    {
        Other,
        Id,
        Created,
        Model,
        Usage,
        Choices,
        Error,
    }

    /// <summary>Throws a <see cref="JsonException"/> when <paramref name="json"/> is not one valid JSON value.</summary>
    private UpstreamJson Read(ReadOnlySpan<byte> json, ReadOnlySpan<byte> part, Writing writing, TokenUsage? estimate)
    {
        json = WellFormed(json);
        found = default;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            EnsureEnd(ref reader);
            return found;
        }
        found.IsObject = true;

        var write = writing != Writing.Nothing;
        if (write)
        {
            output.ResetWrittenCount();
            writer.Reset();
            writer.WriteStartObject();
        }
        bool sawId = false, sawCreated = false, sawModel = false, sawUsage = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            switch (Classify(ref reader))
            {
                case TopLevel.Id:
                    sawId = true;
                    reader.Skip();
                    if (write)
                        writer.WriteString(Id, call.ResponseId);
                    break;
                case TopLevel.Created:
                    sawCreated = true;
                    reader.Skip();
                    if (write)
                        writer.WriteNumber(Created, call.Created);
                    break;
                case TopLevel.Model:
                    sawModel = true;
                    reader.Skip();
                    if (write)
                        writer.WriteString(Model, call.Model.Slug);
                    break;
                case TopLevel.Usage:
                    sawUsage = true;
                    var copyUsage = writing == Writing.Completion && estimate is null;
                    if (copyUsage)
                        WritePropertyName(ref reader);
                    var usageStart = MoveToValue(ref reader);
                    var reasoningAdded = false;
                    if (reader.TokenType == JsonTokenType.StartObject)
                        found.Usage = ReadUsage(ref reader, out reasoningAdded);
                    else
                        reader.Skip();
                    if (copyUsage && reasoningAdded)
                        WriteUsageWithCompletion(json[usageStart..(int)reader.BytesConsumed], found.Usage!.CompletionTokens);
                    else if (copyUsage)
                        WriteRawValue(json[usageStart..(int)reader.BytesConsumed]);
                    else if (writing == Writing.Completion)
                        WriteUsage(estimate!);
                    break;
                case TopLevel.Choices:
                    if (write)
                        WritePropertyName(ref reader);
                    var choicesStart = MoveToValue(ref reader);
                    if (reader.TokenType == JsonTokenType.StartArray)
                        found.ChoiceCount = ReadChoices(ref reader, part);
                    else
                        reader.Skip();
                    if (write)
                        WriteRawValue(json[choicesStart..(int)reader.BytesConsumed]);
                    break;
                case TopLevel.Error:
                    if (write)
                        WritePropertyName(ref reader);
                    var errorStart = MoveToValue(ref reader);
                    found.HasError |= reader.TokenType != JsonTokenType.Null;
                    reader.Skip();
                    if (write)
                        WriteRawValue(json[errorStart..(int)reader.BytesConsumed]);
                    break;
                default:
                    if (write)
                        WritePropertyName(ref reader);
                    var valueStart = MoveToValue(ref reader);
                    reader.Skip();
                    if (write)
                        WriteRawValue(json[valueStart..(int)reader.BytesConsumed]);
                    break;
            }
        }
        EnsureEnd(ref reader);

        if (write)
        {
            if (!sawId)
                writer.WriteString(Id, call.ResponseId);
            if (!sawCreated)
                writer.WriteNumber(Created, call.Created);
            if (!sawModel)
                writer.WriteString(Model, call.Model.Slug);
            if (!sawUsage && writing == Writing.Completion && estimate is not null)
                WriteUsage(estimate);
            writer.WriteEndObject();
            writer.Flush();
            found.Rewritten = output.WrittenMemory;
        }
        return found;
    }

    /// <summary>
    /// Upstream text has always been decoded leniently, each malformed UTF-8 sequence becoming U+FFFD, rather
    /// than failing the reply; the reader does not check UTF-8 inside strings, so that is done here first.
    /// </summary>
    private static ReadOnlySpan<byte> WellFormed(ReadOnlySpan<byte> json) =>
        Utf8.IsValid(json) ? json : Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(json));

    private static TopLevel Classify(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("id"u8))
            return TopLevel.Id;
        if (reader.ValueTextEquals("created"u8))
            return TopLevel.Created;
        if (reader.ValueTextEquals("model"u8))
            return TopLevel.Model;
        if (reader.ValueTextEquals("usage"u8))
            return TopLevel.Usage;
        if (reader.ValueTextEquals("choices"u8))
            return TopLevel.Choices;
        if (reader.ValueTextEquals("error"u8))
            return TopLevel.Error;
        return TopLevel.Other;
    }

    /// <summary>From a property name to its value; returns where the value starts.</summary>
    private static int MoveToValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        return (int)reader.TokenStartIndex;
    }

    /// <summary>Past the end of the top-level value: anything but whitespace after it fails, as a JSON parser fails it.</summary>
    private static void EnsureEnd(ref Utf8JsonReader reader)
    {
        while (reader.Read())
        {
        }
    }

    private void WritePropertyName(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
            writer.WritePropertyName(reader.GetString()!);
        else
            writer.WritePropertyName(reader.ValueSpan);
    }

    /// <summary>
    /// A value as it came. Only the whitespace between its tokens can hold a line break (JSON strings cannot), so
    /// line breaks become spaces: the result stays on one line, as a server-sent event's data must.
    /// </summary>
    private void WriteRawValue(ReadOnlySpan<byte> value)
    {
        if (value.IndexOfAny((byte)'\r', (byte)'\n') < 0)
        {
            writer.WriteRawValue(value, skipInputValidation: true);
            return;
        }
        var rented = ArrayPool<byte>.Shared.Rent(value.Length);
        var oneLine = rented.AsSpan(0, value.Length);
        value.CopyTo(oneLine);
        oneLine.Replace((byte)'\r', (byte)' ');
        oneLine.Replace((byte)'\n', (byte)' ');
        writer.WriteRawValue(oneLine, skipInputValidation: true);
        ArrayPool<byte>.Shared.Return(rented);
    }

    /// <summary>
    /// A usage object as it came but for its completion_tokens, which take the reasoning tokens the provider counted
    /// apart: the client reads OpenAI's meaning, and the count it is billed by.
    /// </summary>
    private void WriteUsageWithCompletion(ReadOnlySpan<byte> usage, int completionTokens)
    {
        var reader = new Utf8JsonReader(usage);
        reader.Read();
        writer.WriteStartObject();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCompletion = reader.ValueTextEquals("completion_tokens"u8);
            WritePropertyName(ref reader);
            var valueStart = MoveToValue(ref reader);
            reader.Skip();
            if (isCompletion)
                writer.WriteNumberValue(completionTokens);
            else
                WriteRawValue(usage[valueStart..(int)reader.BytesConsumed]);
        }
        writer.WriteEndObject();
    }

    private void WriteUsage(TokenUsage usage)
    {
        writer.WriteStartObject(Usage);
        writer.WriteNumber(PromptTokens, usage.PromptTokens);
        writer.WriteNumber(CompletionTokens, usage.CompletionTokens);
        writer.WriteNumber(TotalTokens, usage.TotalTokens);
        writer.WriteEndObject();
    }

    /// <summary>From the start of the choices array to its end; returns how many there are.</summary>
    private int ReadChoices(ref Utf8JsonReader reader, ReadOnlySpan<byte> part)
    {
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            count++;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(part))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                        ReadMessage(ref reader);
                    else
                        reader.Skip();
                }
                else if (reader.ValueTextEquals("finish_reason"u8))
                {
                    reader.Read();
                    found.Finished |= reader.TokenType is JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False;
                    reader.Skip();
                }
                else
                    reader.Skip();
            }
        }
        return count;
    }

    /// <summary>A choice's message or delta, from its start to its end.</summary>
    private void ReadMessage(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                var chars = TextLength(ref reader);
                found.GeneratedChars += chars;
                found.ReceivedChars += chars;
            }
            else if (reader.ValueTextEquals("refusal"u8) || reader.ValueTextEquals("reasoning_content"u8) || reader.ValueTextEquals("reasoning"u8))
            {
                reader.Read();
                found.GeneratedChars += TextLength(ref reader);
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                    ReadToolCalls(ref reader);
                else
                    reader.Skip();
            }
            else
                reader.Skip();
        }
    }

    private void ReadToolCalls(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("function"u8))
                {
                    reader.Skip();
                    continue;
                }
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                    ReadFunction(ref reader);
                else
                    reader.Skip();
            }
        }
    }

    private void ReadFunction(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                found.GeneratedChars += TextLength(ref reader);
            }
            else if (reader.ValueTextEquals("arguments"u8))
            {
                reader.Read();
                var chars = TextLength(ref reader);
                found.GeneratedChars += chars;
                found.ReceivedChars += chars;
            }
            else
                reader.Skip();
        }
    }

    /// <summary>
    /// The length in UTF-16 code units of the string value the reader is on, unescaped, as string.Length would
    /// give it; 0 for any other value, which is skipped. Every escape stands for one code unit: \n, \", \u00e9,
    /// and each half of an escaped surrogate pair alike.
    /// </summary>
    private static long TextLength(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return 0;
        }
        var text = reader.ValueSpan;
        if (!reader.ValueIsEscaped)
            return Encoding.UTF8.GetCharCount(text);
        long length = 0;
        while (true)
        {
            var backslash = text.IndexOf((byte)'\\');
            if (backslash < 0)
                return length + Encoding.UTF8.GetCharCount(text);
            length += Encoding.UTF8.GetCharCount(text[..backslash]) + 1;
            text = text[(backslash + (text[backslash + 1] == (byte)'u' ? 6 : 2))..];
        }
    }

    /// <summary>
    /// From the start of a usage object to its end, or null for one with neither prompt_tokens nor completion_tokens:
    /// no count is not a count of zero. A count that is not a whole number in range counts 0.
    /// OpenAI's completion_tokens include reasoning tokens; xAI's leave them out, and its total_tokens holds both.
    /// A total that adds up only with the reasoning tokens added says which, so they are billed as output either way.
    /// </summary>
    private static TokenUsage? ReadUsage(ref Utf8JsonReader reader, out bool reasoningAdded)
    {
        int prompt = 0, completion = 0, total = 0, cached = 0, reasoning = 0;
        var counted = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
                (prompt, counted) = (ReadCount(ref reader), true);
            else if (reader.ValueTextEquals("completion_tokens"u8))
                (completion, counted) = (ReadCount(ref reader), true);
            else if (reader.ValueTextEquals("total_tokens"u8))
                total = ReadCount(ref reader);
            else if (reader.ValueTextEquals("prompt_tokens_details"u8))
                cached = ReadDetail(ref reader, "cached_tokens"u8);
            else if (reader.ValueTextEquals("completion_tokens_details"u8))
                reasoning = ReadDetail(ref reader, "reasoning_tokens"u8);
            else
                reader.Skip();
        }
        reasoningAdded = counted && reasoning > 0 && total == (long)prompt + completion + reasoning;
        if (reasoningAdded)
            completion += reasoning;
        return counted ? new TokenUsage(prompt, completion, CachedTokens: cached) : null;
    }

    /// <summary>One count of a details object; 0 when it is missing or the value is not an object.</summary>
    private static int ReadDetail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return 0;
        }
        var count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
                count = ReadCount(ref reader);
            else
                reader.Skip();
        }
        return count;
    }

    private static int ReadCount(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var count))
            return count;
        reader.Skip();
        return 0;
    }

    public void Dispose() => writer.Dispose();
}
