using System.Buffers.Text;

namespace Infery.Api.Chat.Parsing;

/// <summary>A base64 data: URI (<c>data:image/png;base64,iVBOR…</c>); only its header is copied out, not the payload.</summary>
internal readonly record struct DataUri(string MediaType)
{
    public static bool IsDataUri(string value) => value.StartsWith("data:", StringComparison.OrdinalIgnoreCase);

    /// <summary>True for <c>data:[media type][;params];base64,payload</c> with a non-empty, valid base64 payload.</summary>
    public static bool TryParse(string value, out DataUri uri)
    {
        uri = default;
        if (!IsDataUri(value))
            return false;
        var comma = value.IndexOf(',');
        if (comma < 0)
            return false;
        var header = value.AsSpan(5, comma - 5);
        if (!header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            return false;
        var payload = value.AsSpan(comma + 1);
        if (payload.IsEmpty || !Base64.IsValid(payload))
            return false;
        var semicolon = header.IndexOf(';');
        uri = new DataUri(header[..semicolon].ToString().ToLowerInvariant());
        return true;
    }
}
