using System.Security.Cryptography;

namespace Infery.Api.Infrastructure;

public static class Ids
{
    public static string New(string prefix) => $"{prefix}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))}";

    /// <summary>Ids we hand out are short and plain; anything else in a URL cannot be one of ours.</summary>
    public static bool IsWellFormed(string id, string prefix) =>
        id.Length <= 64 && id.StartsWith(prefix + "_", StringComparison.Ordinal) && id.AsSpan(prefix.Length + 1).IndexOfAnyExcept("0123456789abcdefghijklmnopqrstuvwxyz_-") < 0;
}
