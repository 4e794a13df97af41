namespace Infery.EventStore;

/// <summary>The version a stream must be at for an append to go through.</summary>
public readonly record struct ExpectedVersion
{
    private const long AnyValue = -1;

    private ExpectedVersion(long value) => Value = value;

    public long Value { get; }

    /// <summary>Quick append: no concurrency check, the events go after whatever the stream holds.</summary>
    public static ExpectedVersion Any { get; } = new(AnyValue);

    /// <summary>The stream must not exist yet.</summary>
    public static ExpectedVersion NoStream { get; } = new(0);

    public static ExpectedVersion Exactly(long version) =>
        version >= 0 ? new(version) : throw new ArgumentOutOfRangeException(nameof(version));

    public bool IsAny => Value == AnyValue;

    public override string ToString() => IsAny ? "any" : Value.ToString();
}
