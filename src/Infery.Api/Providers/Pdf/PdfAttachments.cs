using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;

namespace Infery.Api.Providers.Pdf;

/// <summary>
/// The PDFs a request attaches, converted once for the models of its chain that cannot read PDFs, and the request
/// as such a model gets it: each PDF replaced by the text of its pages, each page followed by its image for models
/// that see images. Models that read PDFs get the request as the client sent it.
/// </summary>
public sealed class PdfAttachments
{
    private readonly ChatRequest original;

    /// <summary>Keyed by the part's data URI, which both the parsed messages and the JSON body hold.</summary>
    private readonly Dictionary<string, (string Name, ConvertedPdf Pdf)> converted;

    private ChatRequest? asText;
    private ChatRequest? asTextAndImages;

    private PdfAttachments(ChatRequest original, Dictionary<string, (string Name, ConvertedPdf Pdf)> converted)
    {
        this.original = original;
        this.converted = converted;
        foreach (var (_, pdf) in converted.Values)
            Pages += pdf.Pages;
    }

    /// <summary>Pages converted, for the per-page price of a model that needed them.</summary>
    public int Pages { get; }

    /// <summary>Null when the request attaches no PDF or every model of the chain reads PDFs itself.</summary>
    public static async Task<PdfAttachments?> ConvertForAsync(
        ChatRequest request, IReadOnlyList<CatalogModel> chain, PdfConverter converter, CancellationToken ct)
    {
        Dictionary<string, (string Name, ConvertedPdf Pdf)>? converted = null;
        var withPageImages = false;
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var content = request.Messages[i].Content;
            for (var j = 0; j < content.Count; j++)
            {
                if (content[j] is not FilePart { FileData: { } dataUri } file || !IsPdf(file, out var payload))
                    continue;
                if (converted is null)
                {
                    if (chain.All(m => m.Capabilities.Pdf))
                        return null;
                    converted = new Dictionary<string, (string, ConvertedPdf)>(StringComparer.Ordinal);
                    withPageImages = chain.Any(m => !m.Capabilities.Pdf && m.Capabilities.Vision);
                }
                if (converted.ContainsKey(dataUri))
                    continue;
                var pdf = await converter.ConvertAsync(Convert.FromBase64String(payload), $"messages[{i}].content[{j}]", withPageImages, ct);
                converted[dataUri] = (file.Filename ?? "document.pdf", pdf);
            }
        }
        return converted is null ? null : new PdfAttachments(request, converted);
    }

    public ChatRequest For(CatalogModel model) =>
        model.Capabilities.Pdf ? original
        : model.Capabilities.Vision ? asTextAndImages ??= Rewrite(withPageImages: true)
        : asText ??= Rewrite(withPageImages: false);

    private static bool IsPdf(FilePart file, out string payload)
    {
        payload = "";
        if (!DataUriContent.TryParse(file.FileData!, out var data) || !data.IsBase64)
            return false;
        payload = data.Payload;
        return data.MediaType == "application/pdf"
            || (data.MediaType == "application/octet-stream" && file.Filename?.EndsWith(".pdf", StringComparison.OrdinalIgnoreCase) == true);
    }

    private ChatRequest Rewrite(bool withPageImages)
    {
        var messages = new List<ChatMessage>(original.Messages.Count);
        foreach (var message in original.Messages)
        {
            var content = new List<ContentPart>(message.Content.Count);
            foreach (var part in message.Content)
            {
                if (part is FilePart { FileData: { } dataUri } && converted.TryGetValue(dataUri, out var pdf))
                    content.AddRange(PartsOf(pdf.Name, pdf.Pdf, withPageImages));
                else
                    content.Add(part);
            }
            messages.Add(message with { Content = content });
        }
        return original with { Messages = messages, Body = RewriteBody(withPageImages) };
    }

    private static IEnumerable<ContentPart> PartsOf(string name, ConvertedPdf pdf, bool withPageImages)
    {
        for (var page = 0; page < pdf.Pages; page++)
        {
            yield return new TextPart($"[{name}, page {page + 1} of {pdf.Pages}]\n{pdf.PageTexts[page]}");
            if (withPageImages && page < pdf.PageImageDataUris.Count)
                yield return new ImagePart(pdf.PageImageDataUris[page], null);
        }
    }

    /// <summary>The client's JSON with the same replacement, for upstreams that are sent the body as it came.</summary>
    private JsonObject RewriteBody(bool withPageImages)
    {
        var body = new JsonObject();
        foreach (var (name, value) in original.Body)
            body[name] = name == "messages" && value is JsonArray messages ? RewriteMessages(messages, withPageImages) : value?.DeepClone();
        return body;
    }

    private JsonArray RewriteMessages(JsonArray messages, bool withPageImages)
    {
        var rewritten = new JsonArray();
        foreach (var message in messages)
        {
            if (message is not JsonObject { } fields || fields["content"] is not JsonArray parts)
            {
                rewritten.Add(message?.DeepClone());
                continue;
            }
            var content = new JsonArray();
            foreach (var part in parts)
            {
                if (part?["type"]?.GetValue<string>() == "file" && part["file"]?["file_data"]?.GetValue<string>() is { } dataUri
                    && converted.TryGetValue(dataUri, out var pdf))
                {
                    foreach (var page in PartsOf(pdf.Name, pdf.Pdf, withPageImages))
                        content.Add(page switch
                        {
                            TextPart text => new JsonObject { ["type"] = "text", ["text"] = text.Text },
                            ImagePart image => new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = image.Url } },
                            _ => throw new InvalidOperationException("a converted page is text or an image"),
                        });
                }
                else
                {
                    content.Add(part?.DeepClone());
                }
            }
            var copy = new JsonObject();
            foreach (var (name, value) in fields)
                copy[name] = name == "content" ? content : value?.DeepClone();
            rewritten.Add(copy);
        }
        return rewritten;
    }
}
