using Infery.Api.Chat;
using Infery.Api.Gateway;
using Infery.Api.Gateway.Idempotency;
using Infery.Api.Http;
using Infery.Api.Infrastructure;

namespace Infery.Api.Features.Chat;

/// <summary>POST /v1/chat/completions and the legacy POST /v1/completions, both through the chat pipeline.</summary>
public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", (HttpContext http, ChatPipeline pipeline, IdempotencyKeys idempotency) =>
            Handle(http, pipeline, idempotency, ChatRequestParser.Parse, ChatEndpoint.ChatCompletions)).RequireApiKey();
        app.MapPost("/v1/completions", (HttpContext http, ChatPipeline pipeline, IdempotencyKeys idempotency) =>
            Handle(http, pipeline, idempotency, LegacyCompletions.ParseCompletion, ChatEndpoint.Completions)).RequireApiKey();
        return app;
    }

    private static Task Handle(
        HttpContext http, ChatPipeline pipeline, IdempotencyKeys idempotency, Func<System.Text.Json.Nodes.JsonNode?, ParseResult> parse, ChatEndpoint endpoint)
    {
        if (!http.Request.Headers.TryGetValue(IdempotencyKeys.Header, out var key))
            return Handle(http, pipeline, parse, endpoint);
        return idempotency.RunAsync(http, http.Authorized().Key.WorkspaceId, key.ToString(), () => Handle(http, pipeline, parse, endpoint));
    }

    private static async Task Handle(HttpContext http, ChatPipeline pipeline, Func<System.Text.Json.Nodes.JsonNode?, ParseResult> parse, ChatEndpoint endpoint)
    {
        var (body, unreadable) = await JsonBody.ReadObjectAsync(
            http.Request, (int)GatewayHost.MaxRequestBodyBytes, http.RequestAborted, parserRejectsRepeatedNames: true);
        if (body is null)
        {
            await unreadable!.WriteAsync(http.Response);
            return;
        }
        var parsed = parse(body);
        if (parsed.Request is null)
        {
            await parsed.Error!.WriteAsync(http.Response);
            return;
        }
        await pipeline.HandleAsync(http, parsed.Request, endpoint);
    }
}
