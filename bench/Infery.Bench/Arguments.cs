using System.Globalization;

namespace Infery.Bench;

/// <summary>Command-line options of the form <c>--name value</c> or <c>--flag</c>.</summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string?> values;
    private readonly HashSet<string> read = new(StringComparer.Ordinal);

    private Arguments(Dictionary<string, string?> values) => this.values = values;

    public static Arguments Parse(IEnumerable<string> args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        string? pending = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                pending = arg[2..];
                values[pending] = null;
            }
            else if (pending is not null)
            {
                values[pending] = arg;
                pending = null;
            }
            else
            {
                throw new ArgumentException($"unexpected argument '{arg}'");
            }
        }
        return new Arguments(values);
    }

    public bool Flag(string name)
    {
        read.Add(name);
        if (!values.TryGetValue(name, out var value))
            return false;
        return value is null ? true : throw new ArgumentException($"--{name} takes no value");
    }

    public string? Text(string name)
    {
        read.Add(name);
        return values.TryGetValue(name, out var value)
            ? value ?? throw new ArgumentException($"--{name} needs a value")
            : null;
    }

    public int? Int(string name) =>
        Text(name) is { } text
            ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
                ? number
                : throw new ArgumentException($"--{name} must be a positive whole number, not '{text}'")
            : null;

    public int[]? IntList(string name) =>
        Text(name) is { } text
            ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(part => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
                    ? number
                    : throw new ArgumentException($"--{name} must be a comma-separated list of positive numbers, not '{text}'"))
                .ToArray()
            : null;

    /// <summary>Fails on any option the benchmark did not ask for, so a typo is never silently ignored.</summary>
    public void RejectUnknown()
    {
        var unknown = values.Keys.Where(name => !read.Contains(name)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown option(s): {string.Join(", ", unknown.Select(n => "--" + n))}");
    }
}
