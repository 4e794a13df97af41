using System.Globalization;

namespace Infery.Domain.Credits;

/// <summary>Money is a long count of micro-credits (1 credit = 1,000,000). Users see decimal strings with six places.</summary>
public static class MicroCredits
{
    public const long PerCredit = 1_000_000;

    /// <summary>The most one grant may add: a billion credits.</summary>
    public const long MaxGrant = 1_000_000_000 * PerCredit;

    public static string Format(long micro) =>
        (micro / (decimal)PerCredit).ToString("0.000000", CultureInfo.InvariantCulture);

    /// <summary>Parses credits given as a decimal ("12.5") into micro-credits; more than six decimal places is refused.</summary>
    public static bool TryParse(decimal credits, out long micro)
    {
        micro = 0;
        // Checked before scaling: a decimal this large would overflow when multiplied.
        if (Math.Abs(credits) > long.MaxValue / (decimal)PerCredit)
            return false;
        var scaled = credits * PerCredit;
        if (scaled != decimal.Truncate(scaled))
            return false;
        micro = (long)scaled;
        return true;
    }

    /// <summary>Cost of a token count at a price per million tokens, in micro-credits times a million (exact, for summing).</summary>
    public static long Scaled(long tokens, long pricePerMillion) => checked(tokens * pricePerMillion);

    /// <summary>A sum of <see cref="Scaled"/> amounts back to micro-credits, rounded up: no request is free by rounding.</summary>
    public static long FromScaled(long scaled) => scaled <= 0 ? 0 : (scaled + 999_999) / 1_000_000;
}
