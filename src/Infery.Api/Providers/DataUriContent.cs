namespace Infery.Api.Providers;

/// <summary>The parts of a data: URI (<c>data:[media type][;base64],payload</c>) that adapters pass on inline.</summary>
public sealed record DataUriContent(string MediaType, bool IsBase64, string Payload)
{
    public static bool IsDataUri(string uri) => uri.StartsWith("data:", StringComparison.OrdinalIgnoreCase);

    /// <summary>False when <paramref name="uri"/> is not a data: URI with a payload; no media type means text/plain.</summary>
    public static bool TryParse(string uri, out DataUriContent parsed)
    {
        parsed = null!;
        if (!IsDataUri(uri))
            return false;
        var comma = uri.IndexOf(',');
        if (comma < 0)
            return false;
        var parameters = uri[5..comma].Split(';');
        var mediaType = parameters[0].Trim().ToLowerInvariant();
        var isBase64 = parameters.Skip(1).Any(p => p.Trim().Equals("base64", StringComparison.OrdinalIgnoreCase));
        parsed = new DataUriContent(mediaType.Length == 0 ? "text/plain" : mediaType, isBase64, uri[(comma + 1)..]);
        return true;
    }
}
