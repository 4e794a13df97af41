using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Providers.Estimates;

namespace Infery.Api.Providers.Pdf;

/// <summary>
/// The PDFs a request attaches. Before anything is reserved, each is read for its page count, which the estimate
/// and the per-page price go by. Once the credits are reserved, those that a model of the chain cannot read are
/// converted, once, and such a model gets the request with each PDF replaced by the text of its pages, each page
/// followed by its image for models that see images. Models that read PDFs get the request as the client sent it.
/// </summary>
public sealed class PdfAttachments
{
    private readonly IReadOnlyList<CatalogModel> chain;

    /// <summary>Keyed by the part's data URI, which both the parsed messages and the JSON body hold.</summary>
    private readonly Dictionary<string, Attached> byDataUri;

    private ChatRequest? asText;
    private ChatRequest? asTextAndImages;

    private sealed record Attached(string Name, string Param, ReadOnlyMemory<byte> Pdf, int Pages)
    {
        public ConvertedPdf? Converted { get; set; }
    }

    private PdfAttachments(IReadOnlyList<CatalogModel> chain, Dictionary<string, Attached> byDataUri, ChatRequest counted, int pages, bool needsConversion)
    {
        this.chain = chain;
        this.byDataUri = byDataUri;
        Request = counted;
        Pages = pages;
        NeedsConversion = needsConversion;
    }

    /// <summary>The request as sent, with each PDF part's page count on it.</summary>
    public ChatRequest Request { get; }

    /// <summary>Pages of the distinct PDFs attached: what a model that needs them converted pays for, per page.</summary>
    public int Pages { get; }

    /// <summary>A model of the chain cannot read PDFs: convert them (<see cref="ConvertAsync"/>) before calling any.</summary>
    public bool NeedsConversion { get; }

    /// <summary>
    /// Null when the request attaches no PDF, or when poppler is missing and every model of the chain reads PDFs
    /// itself (the estimate then finds the pages on its own).
    /// </summary>
    public static async Task<PdfAttachments?> InspectAsync(
        ChatRequest request, IReadOnlyList<CatalogModel> chain, PdfConverter converter, CancellationToken requestAborted, CancellationToken graceOver)
    {
        var needsConversion = false;
        Dictionary<string, Attached>? byDataUri = null;
        var pages = 0;
        List<ChatMessage>? counted = null;
        // Linked only once a PDF is found: a request without one goes through without it.
        CancellationTokenSource? cut = null;
        try
        {
            for (var i = 0; i < request.Messages.Count; i++)
            {
                var content = request.Messages[i].Content;
                List<ContentPart>? countedContent = null;
                for (var j = 0; j < content.Count; j++)
                {
                    if (content[j] is not FilePart { FileData: { } dataUri } file)
                        continue;
                    // The same data again is the same PDF, whatever the part calls it.
                    if (byDataUri?.TryGetValue(dataUri, out var pdf) != true)
                    {
                        if (!IsPdf(file))
                            continue;
                        if (byDataUri is null)
                        {
                            byDataUri = new Dictionary<string, Attached>(StringComparer.Ordinal);
                            needsConversion = !chain.All(m => m.Capabilities.Pdf);
                            cut = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, graceOver);
                        }
                        var param = $"messages[{i}].content[{j}]";
                        if (byDataUri.Count == MaxPdfs)
                            throw PdfConverter.Refused(param, "too_many_pdfs", $"A request may attach at most {MaxPdfs} different PDFs; `{param}` is one more.");
                        var bytes = Decoded(file);
                        int pageCount;
                        try
                        {
                            pageCount = await converter.CountPagesAsync(bytes, param, cut!.Token);
                        }
                        catch (PdfConversionException e) when (e.ToolsMissing && !needsConversion)
                        {
                            return null;
                        }
                        pdf = new Attached(Shortened(file.Filename ?? "document.pdf"), param, bytes, pageCount);
                        pages += pdf.Pages;
                        if (needsConversion && pages > converter.MaxPages)
                            throw PdfConverter.Refused(param, "pdf_too_many_pages",
                                $"The PDFs attached have {pages} pages or more together; at most {converter.MaxPages} can be converted for one request.");
                        byDataUri[dataUri] = pdf;
                    }
                    countedContent ??= [.. content];
                    countedContent[j] = file with { Pages = pdf!.Pages };
                }
                if (countedContent is not null)
                {
                    counted ??= [.. request.Messages];
                    counted[i] = request.Messages[i] with { Content = countedContent };
                }
            }
        }
        finally
        {
            cut?.Dispose();
        }
        return byDataUri is null ? null : new PdfAttachments(chain, byDataUri, request with { Messages = counted! }, pages, needsConversion);
    }

    /// <summary>Different PDFs one request may attach: each is read before anything is reserved.</summary>
    public const int MaxPdfs = 20;

    /// <summary>A file name as each converted page's heading gives it: short, since the heading is repeated on every page.</summary>
    private static string Shortened(string name) => name.Length <= 100 ? name : name[..100] + "…";

    /// <summary>Converts every PDF for the models of the chain that cannot read PDFs; images only if one of them sees.</summary>
    public async Task ConvertAsync(PdfConverter converter, CancellationToken ct)
    {
        var withPageImages = chain.Any(m => !m.Capabilities.Pdf && m.Capabilities.Vision);
        foreach (var pdf in byDataUri.Values)
            pdf.Converted ??= await converter.ConvertAsync(pdf.Pdf, pdf.Pages, pdf.Param, withPageImages, ct);
    }

    public ChatRequest For(CatalogModel model) =>
        model.Capabilities.Pdf ? Request
        : model.Capabilities.Vision ? asTextAndImages ??= Rewrite(withPageImages: true)
        : asText ??= Rewrite(withPageImages: false);

    /// <summary>Read where it lies in the data URI, as the estimate reads it: nothing is copied to tell.</summary>
    private static bool IsPdf(FilePart file) =>
        InlineData.TryParse(file.FileData, out var data)
        && (data.IsA("application/pdf") || (data.IsA("application/octet-stream") && file.Filename?.EndsWith(".pdf", StringComparison.OrdinalIgnoreCase) == true));

    /// <summary>The file's bytes, decoded straight from its data URI rather than from a copy of its payload.</summary>
    private static ReadOnlyMemory<byte> Decoded(FilePart file)
    {
        InlineData.TryParse(file.FileData, out var data);
        var bytes = new byte[Base64Reader.DecodedLength(data.Base64)];
        Convert.TryFromBase64Chars(data.Base64, bytes, out var written);
        return bytes.AsMemory(0, written);
    }

    private ChatRequest Rewrite(bool withPageImages)
    {
        var messages = new List<ChatMessage>(Request.Messages.Count);
        foreach (var message in Request.Messages)
        {
            var content = new List<ContentPart>(message.Content.Count);
            foreach (var part in message.Content)
            {
                if (part is FilePart { FileData: { } dataUri } && byDataUri.TryGetValue(dataUri, out var pdf))
                    content.AddRange(PartsOf(pdf, withPageImages));
                else
                    content.Add(part);
            }
            messages.Add(message with { Content = content });
        }
        return Request with { Messages = messages, Body = RewriteBody(withPageImages) };
    }

    private static IEnumerable<ContentPart> PartsOf(Attached pdf, bool withPageImages)
    {
        var converted = pdf.Converted ?? throw new InvalidOperationException("PDFs are converted before a model is called");
        for (var page = 0; page < converted.Pages; page++)
        {
            yield return new TextPart($"[{pdf.Name}, page {page + 1} of {converted.Pages}]\n{converted.PageTexts[page]}");
            if (withPageImages && page < converted.PageImageDataUris.Count)
                yield return new ImagePart(converted.PageImageDataUris[page], null);
        }
    }

    /// <summary>The client's JSON with the same replacement, for upstreams that are sent the body as it came.</summary>
    private JsonObject RewriteBody(bool withPageImages)
    {
        var body = new JsonObject();
        foreach (var (name, value) in Request.Body)
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
                    && byDataUri.TryGetValue(dataUri, out var pdf))
                {
                    foreach (var page in PartsOf(pdf, withPageImages))
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
