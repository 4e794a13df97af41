using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>Plain HTTP calls to the chat endpoints, for what an SDK hides: headers, raw chunks, our own request ids.</summary>
public static class ChatHttp
{
    public static string NewRequestId() => $"acc-{Guid.NewGuid():N}";

    public static HttpRequestMessage Post(string path, string key, string json, string? requestId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (requestId is not null)
            request.Headers.Add("x-request-id", requestId);
        return request;
    }

    public static string Body(string model, string text, bool stream = false, bool includeUsage = false)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }),
        };
        if (stream)
            body["stream"] = true;
        if (includeUsage)
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        return body.ToJsonString();
    }

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : throw new ShouldAssertException($"no {name} header");

    /// <summary>The data events of a whole SSE body, and whether it ended with [DONE] as its last event.</summary>
    public static (List<JsonObject> Events, bool Done) ReadSse(string body)
    {
        var events = new List<JsonObject>();
        var done = false;
        foreach (var block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            block.ShouldStartWith("data: ");
            done.ShouldBeFalse("nothing may follow [DONE]");
            var data = block["data: ".Length..];
            if (data == "[DONE]")
                done = true;
            else
                events.Add(JsonNode.Parse(data)!.AsObject());
        }
        return (events, done);
    }

    /// <summary>The text of every content delta, in order.</summary>
    public static string Text(IEnumerable<JsonObject> chunks) => string.Concat(chunks
        .SelectMany(c => c["choices"] as JsonArray ?? [])
        .Select(choice => choice?["delta"]?["content"] ?? choice?["text"])
        .Select(content => content?.GetValue<string>() ?? ""));

    /// <summary>The credits_used chunk's value in micro-credits.</summary>
    public static long CreditsUsed(IEnumerable<JsonObject> chunks) =>
        MicroCreditsOf(chunks.Single(c => c.ContainsKey("credits_used"))["credits_used"]!.GetValue<string>());

    public static long MicroCreditsOf(string credits) => (long)(decimal.Parse(credits, System.Globalization.CultureInfo.InvariantCulture) * 1_000_000m);
}
