using Infery.Api.Providers.Estimates;

namespace Infery.Api.Tests.Providers.Estimates;

public sealed class Base64ReaderTests
{
    private static readonly byte[] Bytes = Enumerable.Range(0, 10_001).Select(i => (byte)(i * 7 + i / 256)).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(1024)]
    [InlineData(20_000)]
    public void Reading_in_pieces_of_any_size_gives_every_byte_in_order(int piece)
    {
        var read = ReadAll(Convert.ToBase64String(Bytes), piece);

        read.ShouldBe(Bytes);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4096)]
    public void Line_breaks_in_the_payload_are_skipped(int piece) =>
        ReadAll(Convert.ToBase64String(Bytes, Base64FormattingOptions.InsertLineBreaks), piece).ShouldBe(Bytes);

    [Fact]
    public void Skipping_passes_over_exactly_that_many_bytes()
    {
        var reader = new Base64Reader(Convert.ToBase64String(Bytes));
        var next = new byte[2];

        reader.Skip(5_000).ShouldBe(5_000);
        reader.Read(next).ShouldBe(2);
        reader.Skip(100_000).ShouldBe(Bytes.Length - 5_002);

        next.ShouldBe(Bytes[5_000..5_002]);
        reader.AtEnd.ShouldBeTrue();
    }

    [Fact]
    public void Reading_stops_where_the_payload_stops_being_base64()
    {
        var reader = new Base64Reader("QUJD$$$$RUZH");
        var buffer = new byte[12];

        reader.Read(buffer).ShouldBe(3);
        buffer[..3].ShouldBe("ABC"u8.ToArray());
        reader.AtEnd.ShouldBeTrue();
    }

    [Fact]
    public void The_decoded_length_is_three_quarters_of_the_characters() =>
        Base64Reader.DecodedLength(Convert.ToBase64String(new byte[3_000])).ShouldBe(3_000);

    private static byte[] ReadAll(string base64, int piece)
    {
        var reader = new Base64Reader(base64);
        var all = new List<byte>();
        var buffer = new byte[piece];
        var cameShort = false;
        int read;
        while ((read = reader.Read(buffer)) > 0)
        {
            cameShort.ShouldBeFalse("a read comes up short only at the end");
            cameShort = read < piece;
            all.AddRange(buffer[..read]);
        }
        reader.AtEnd.ShouldBeTrue();
        return [.. all];
    }
}
