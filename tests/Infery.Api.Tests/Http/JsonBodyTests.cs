using System.Text;
using Infery.Api.Http;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Http;

/// <summary>A request body is one JSON object within a size limit; every other body is an error envelope, never a 500.</summary>
public sealed class JsonBodyTests
{
    [Fact]
    public async Task An_object_is_read_however_the_body_arrives()
    {
        var (body, error) = await ReadAsync("""{"model":"m","messages":[{"role":"user","content":"héllo"}]}""", bytesPerRead: 3);

        error.ShouldBeNull();
        body!["messages"]![0]!["content"]!.GetValue<string>().ShouldBe("héllo");
    }

    [Theory]
    [InlineData("""{"model":"m"} trailing""")]
    [InlineData("""{"model":"m"}{"model":"n"}""")]
    [InlineData("""{"model":""")]
    [InlineData("   ")]
    public async Task Anything_but_one_JSON_value_is_invalid_json(string text)
    {
        var (body, error) = await ReadAsync(text);

        body.ShouldBeNull();
        error!.Status.ShouldBe(400);
        error.Code.ShouldBe("invalid_json");
    }

    [Fact]
    public async Task Whitespace_around_the_object_is_fine()
    {
        var (body, error) = await ReadAsync(" \n{\"model\":\"m\"}\n ");

        error.ShouldBeNull();
        body!["model"]!.GetValue<string>().ShouldBe("m");
    }

    [Fact]
    public async Task An_empty_body_says_so()
    {
        var (_, error) = await ReadAsync("");

        error!.Status.ShouldBe(400);
        error.Message.ShouldContain("empty");
    }

    [Fact]
    public async Task A_value_that_is_not_an_object_is_refused()
    {
        var (_, error) = await ReadAsync("[1,2]");

        error!.Status.ShouldBe(400);
        error.Message.ShouldContain("must be a JSON object");
    }

    [Fact]
    public async Task Nesting_deeper_than_64_is_invalid_json()
    {
        var (_, error) = await ReadAsync(string.Concat(Enumerable.Repeat("{\"a\":", 65)) + "1" + new string('}', 65));

        error!.Code.ShouldBe("invalid_json");
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_without_a_declared_length()
    {
        var (_, error) = await ReadAsync("{\"a\":\"" + new string('x', 100) + "\"}", maxBytes: 64, bytesPerRead: 16);

        error!.Status.ShouldBe(413);
        error.Code.ShouldBe("request_too_large");
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_refused_before_reading()
    {
        var context = Request("{}");
        context.Request.ContentLength = 1_000;

        var (_, error) = await JsonBody.ReadObjectAsync(context.Request, 64, CancellationToken.None);

        error!.Status.ShouldBe(413);
    }

    private static Task<(System.Text.Json.Nodes.JsonObject? Body, ApiError? Error)> ReadAsync(string text, int maxBytes = 1024, int bytesPerRead = 4096) =>
        JsonBody.ReadObjectAsync(Request(text, bytesPerRead).Request, maxBytes, CancellationToken.None);

    private static DefaultHttpContext Request(string text, int bytesPerRead = 4096)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new TrickleStream(Encoding.UTF8.GetBytes(text), bytesPerRead);
        return context;
    }

    /// <summary>Hands out at most a few bytes per read, as a slow client's body arrives.</summary>
    private sealed class TrickleStream(byte[] data, int bytesPerRead) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, bytesPerRead)], cancellationToken);
    }
}
