namespace Infery.Api.Providers.Estimates;

/// <summary>A base64 data: URI looked at where it lies: its media type and payload as spans of the URI, nothing copied.</summary>
internal readonly ref struct InlineData(ReadOnlySpan<char> mediaType, ReadOnlySpan<char> base64)
{
    public ReadOnlySpan<char> MediaType { get; } = mediaType;

    public ReadOnlySpan<char> Base64 { get; } = base64;

    public bool IsA(string mediaType) => MediaType.Equals(mediaType, StringComparison.OrdinalIgnoreCase);

    public bool IsOfKind(string kind) =>
        MediaType.StartsWith(kind, StringComparison.OrdinalIgnoreCase) && MediaType.Length > kind.Length && MediaType[kind.Length] == '/';

    /// <summary>True for <c>data:[media type][;params];base64,payload</c>.</summary>
    public static bool TryParse(string? uri, out InlineData data)
    {
        data = default;
        if (uri is null || !uri.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
            return false;
        var comma = uri.IndexOf(',');
        if (comma < 0)
            return false;
        var header = uri.AsSpan(5, comma - 5);
        if (!header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            return false;
        var semicolon = header.IndexOf(';');
        data = new InlineData(header[..semicolon].Trim(), uri.AsSpan(comma + 1));
        return true;
    }
}
