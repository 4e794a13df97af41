using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Infery.Api.Http;
using Infery.Api.Providers.Estimates;
using Microsoft.Extensions.Options;

namespace Infery.Api.Providers.Pdf;

/// <summary>A PDF as a model without native PDF support reads it: the text of each page and, if asked, each page as a JPEG.</summary>
public sealed record ConvertedPdf(IReadOnlyList<string> PageTexts, IReadOnlyList<string> PageImageDataUris)
{
    public int Pages => PageTexts.Count;
}

/// <summary>A PDF the gateway could not read or convert, with the answer the client gets.</summary>
public sealed class PdfConversionException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;

    public bool ToolsMissing => Error.Code == UnavailableCode;

    internal const string UnavailableCode = "pdf_conversion_unavailable";
}

/// <summary>
/// Reads and converts PDFs with poppler's command-line tools (pdfinfo, pdftotext, pdftoppm), on a temporary copy
/// that is deleted afterwards. One runs per core at a time, each under a timeout and with its output bounded, so a
/// hostile PDF costs at most that. Each page's text is cut to what the reservation counts a page as.
/// </summary>
public sealed class PdfConverter(IOptions<PdfConversionOptions> options)
{
    /// <summary>More text than 100 dense pages hold; beyond it a PDF is refused rather than read into memory.</summary>
    private const int MaxTextBytes = 16 * 1024 * 1024;

    private readonly PdfConversionOptions settings = options.Value;
    private readonly SemaphoreSlim running = new(Math.Max(1, Environment.ProcessorCount));

    /// <summary>Pages converted for one request at most.</summary>
    public int MaxPages => settings.MaxPages;

    public Task<int> CountPagesAsync(ReadOnlyMemory<byte> pdf, string param, CancellationToken ct) =>
        OnCopyAsync(pdf, param, ct, async (file, _, deadline) => PageCount(await RunAsync("pdfinfo", [file], param, deadline), param));

    public Task<ConvertedPdf> ConvertAsync(ReadOnlyMemory<byte> pdf, int pages, string param, bool withPageImages, CancellationToken ct) =>
        OnCopyAsync(pdf, param, ct, async (file, directory, deadline) =>
        {
            var text = await RunAsync("pdftotext", ["-layout", "-enc", "UTF-8", file, "-"], param, deadline);
            var pageTexts = text.Split('\f');
            var perPage = new string[pages];
            for (var i = 0; i < pages; i++)
                perPage[i] = i < pageTexts.Length ? WithinPageBudget(pageTexts[i].Trim()) : "";
            var images = withPageImages ? await PageImagesAsync(file, directory, param, deadline) : [];
            return new ConvertedPdf(perPage, images);
        });

    /// <summary>A page's text as far as the reservation counts a page's text (<see cref="FileTokens.PdfPageText"/>).</summary>
    private static string WithinPageBudget(string text)
    {
        var kept = TokenEstimator.Truncate(text, FileTokens.PdfPageText - TruncatedMark.Length);
        return kept.Length == text.Length ? text : kept + TruncatedMark;
    }

    private const string TruncatedMark = "\n[the rest of this page's text is left out]";

    /// <summary>
    /// Runs <paramref name="work"/> on a temporary copy of the PDF, once one of the conversion slots (one per core)
    /// is free. A request that waits a whole timeout for one is told to retry; the timeout of the work counts from then.
    /// </summary>
    private async Task<T> OnCopyAsync<T>(ReadOnlyMemory<byte> pdf, string param, CancellationToken ct, Func<string, string, CancellationToken, Task<T>> work)
    {
        if (!await running.WaitAsync(settings.TimeoutMs, ct))
            throw new PdfConversionException(new ApiError(StatusCodes.Status503ServiceUnavailable,
                "The gateway is busy converting other PDFs; retry shortly.", "server_error", param, "pdf_conversion_busy"));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(settings.TimeoutMs);
        DirectoryInfo? directory = null;
        try
        {
            directory = Directory.CreateTempSubdirectory("infery-pdf-");
            var file = Path.Combine(directory.FullName, "document.pdf");
            await File.WriteAllBytesAsync(file, pdf, deadline.Token);
            return await work(file, directory.FullName, deadline.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Refused(param, "pdf_too_complex", $"The PDF in `{param}` could not be converted within {settings.TimeoutMs / 1000} seconds.");
        }
        finally
        {
            running.Release();
            try
            {
                directory?.Delete(recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The temporary directory is the system's to clear; the answer does not wait on it.
            }
        }
    }

    private async Task<string[]> PageImagesAsync(string file, string directory, string param, CancellationToken ct)
    {
        var prefix = Path.Combine(directory, "page");
        await RunAsync("pdftoppm", ["-jpeg", "-jpegopt", "quality=80", "-scale-to", settings.PageImagePixels.ToString(CultureInfo.InvariantCulture), file, prefix], param, ct);
        // pdftoppm names pages page-1.jpg, or page-01.jpg and so on when there are more: the same width, so in page order by name.
        var files = Directory.GetFiles(directory, "page-*.jpg");
        Array.Sort(files, StringComparer.Ordinal);
        var images = new string[files.Length];
        for (var i = 0; i < files.Length; i++)
            images[i] = "data:image/jpeg;base64," + Convert.ToBase64String(await File.ReadAllBytesAsync(files[i], ct));
        return images;
    }

    private static int PageCount(string info, string param)
    {
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith("Pages:", StringComparison.Ordinal)
                && int.TryParse(line.AsSpan(6).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pages) && pages > 0)
                return pages;
        }
        throw Unreadable(param);
    }

    /// <summary>Runs one tool to its end and returns what it wrote; a failure or too much output refuses the PDF.</summary>
    private static async Task<string> RunAsync(string tool, IReadOnlyList<string> arguments, string param, CancellationToken ct)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception)
        {
            throw new PdfConversionException(new ApiError(StatusCodes.Status503ServiceUnavailable,
                "PDF conversion is not available on this gateway right now. Send the PDF to a model with supportsPdf, or retry later.",
                "server_error", param, PdfConversionException.UnavailableCode));
        }

        try
        {
            var output = ReadBoundedAsync(process.StandardOutput.BaseStream, ct);
            var warnings = ReadBoundedAsync(process.StandardError.BaseStream, ct);
            var text = await output ?? throw Refused(param, "pdf_too_large", $"The PDF in `{param}` holds more text than can be converted.");
            await warnings;
            await process.WaitForExitAsync(ct);
            return process.ExitCode == 0 ? text : throw Unreadable(param);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                // Its files go with the temporary directory, which it must have let go of first.
                process.WaitForExit();
            }
        }
    }

    /// <summary>The stream as UTF-8 text, or null once it passes <see cref="MaxTextBytes"/>.</summary>
    private static async Task<string?> ReadBoundedAsync(Stream stream, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81_920];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxTextBytes)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static PdfConversionException Unreadable(string param) =>
        Refused(param, "invalid_pdf", $"The file in `{param}` is not a PDF that can be read (it may be damaged or encrypted).");

    internal static PdfConversionException Refused(string param, string code, string message) =>
        new(ApiError.InvalidRequest(message, param, code));
}
