using Infery.Api.Gateway.Idempotency;

namespace Infery.Api.Tests.Gateway.Idempotency;

public sealed class RecordingStreamTests
{
    [Fact]
    public async Task Keeps_a_copy_of_what_passes_through()
    {
        var client = new MemoryStream();
        var recording = new RecordingStream(client, maxBytes: 16);

        await recording.WriteAsync("data: 1\n\n"u8.ToArray());

        recording.Recorded.ShouldBe("data: 1\n\n"u8.ToArray());
        client.ToArray().ShouldBe(recording.Recorded);
        recording.Overflowed.ShouldBeFalse();
    }

    [Fact]
    public async Task A_response_longer_than_the_cap_still_reaches_the_client_but_is_not_kept()
    {
        var client = new MemoryStream();
        var recording = new RecordingStream(client, maxBytes: 16);

        await recording.WriteAsync(new byte[10]);
        await recording.WriteAsync(new byte[10]);

        client.Length.ShouldBe(20);
        recording.Overflowed.ShouldBeTrue();
        recording.Recorded.ShouldBeEmpty();
    }
}
