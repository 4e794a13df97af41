using System.Security.Cryptography;
using System.Text;

namespace Infery.Api.Gateway.Auth;

/// <summary>API keys: "inf_" and 40 URL-safe random characters. Only the SHA-256 of a key is ever stored.</summary>
public static class ApiKeySecret
{
    public const string Prefix = "inf_";
    private const int RandomBytes = 30;
    private const int MinSecretLength = 32;
    private const int MaxKeyLength = 128;

    public static string NewKey() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(RandomBytes));

    /// <summary>What the key may be shown as later: the prefix and the first eight characters.</summary>
    public static string DisplayPrefix(string key) => key[..(Prefix.Length + 8)];

    public static bool LooksValid(ReadOnlySpan<char> key) =>
        key.StartsWith(Prefix, StringComparison.Ordinal)
        && key.Length >= Prefix.Length + MinSecretLength
        && key.Length <= MaxKeyLength
        && !key[Prefix.Length..].ContainsAnyExcept(UrlSafe);

    public static byte[] Hash(ReadOnlySpan<char> key)
    {
        Span<byte> utf8 = stackalloc byte[MaxKeyLength];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        return SHA256.HashData(utf8[..length]);
    }

    public static string HashHex(string key) => Convert.ToHexStringLower(Hash(key));

    private static readonly System.Buffers.SearchValues<char> UrlSafe =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
