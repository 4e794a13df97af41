using System.Net;
using System.Net.Http.Json;
using Infery.Api.Tests.Fixtures;
using OpenAI.Chat;

namespace Infery.Api.Tests.Features.Fallbacks;

public sealed class ShippedCatalogGateway() : ConfiguredGatewayFactory(QuickRetries());

/// <summary>Fallback chains on the shipped catalog, where sim-flaky is always overloaded and falls back to sim-chat.</summary>
public sealed class FallbackChainsTests(ShippedCatalogGateway gateway) : IClassFixture<ShippedCatalogGateway>
{
    [Fact]
    public async Task The_SDK_gets_a_completion_from_the_default_fallback_and_the_response_names_it()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        var chat = GatewayClients.OpenAi(gateway, key).GetChatClient("sim-flaky");

        var result = await chat.CompleteChatAsync([new UserChatMessage("Say hello")]);

        result.Value.Model.ShouldBe("sim-chat");
        result.Value.Content[0].Text.ShouldNotBeNullOrEmpty();
        result.Header("x-model-used").ShouldBe("sim-chat");
        result.Header("x-fallback-from").ShouldBe("sim-flaky");
        result.Header("x-fallback-depth").ShouldBe("1");
        var requestId = result.Header("x-request-id");
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldBe(1);
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(1);
        var fired = (await RequestEvents.DataAsync(gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).Single();
        fired["from_model"]!.GetValue<string>().ShouldBe("sim-flaky");
        fired["to_model"]!.GetValue<string>().ShouldBe("sim-chat");
        fired["depth"]!.GetValue<int>().ShouldBe(1);
    }

    [Fact]
    public async Task A_model_that_serves_needs_no_fallback()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);

        var response = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("sim-chat");
        response.Header("x-fallback-depth").ShouldBe("0");
        response.OptionalHeader("x-fallback-from").ShouldBeNull();
    }

    [Fact]
    public async Task A_workspace_chain_set_through_the_admin_API_replaces_the_default()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        var admin = gateway.AdminClient();

        var set = await admin.PutAsJsonAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-flaky", new { fallbacks = new[] { "sim-claude", "sim-chat" } });
        set.StatusCode.ShouldBe(HttpStatusCode.OK);
        var shown = await (await admin.GetAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-flaky")).JsonAsync();
        shown["source"]!.GetValue<string>().ShouldBe("workspace");
        shown["fallbacks"]!.AsArray().Select(f => f!.GetValue<string>()).ShouldBe(["sim-claude", "sim-chat"]);

        var result = await GatewayClients.OpenAi(gateway, key).GetChatClient("sim-flaky").CompleteChatAsync([new UserChatMessage("Hello")]);

        result.Value.Model.ShouldBe("sim-claude");
        result.Header("x-model-used").ShouldBe("sim-claude");
        result.Header("x-fallback-from").ShouldBe("sim-flaky");
        result.Header("x-fallback-depth").ShouldBe("1");
        var requestId = result.Header("x-request-id");
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldBe(1);
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(1);

        (await admin.DeleteAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-flaky")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var restored = await (await admin.GetAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-flaky")).JsonAsync();
        restored["source"]!.GetValue<string>().ShouldBe("default");
        restored["fallbacks"]!.AsArray().Select(f => f!.GetValue<string>()).ShouldBe(["sim-chat"]);
        var afterClear = await gateway.KeyClient(key).ChatAsync("sim-flaky", "Hello");
        afterClear.Header("x-model-used").ShouldBe("sim-chat");
    }

    [Fact]
    public async Task An_empty_workspace_chain_turns_fallback_off()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        (await gateway.AdminClient().PutAsJsonAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-flaky", new { fallbacks = Array.Empty<string>() }))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        var response = await gateway.KeyClient(key).ChatAsync("sim-flaky", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await response.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("upstream_overloaded");
        var requestId = response.Header("x-request-id");
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(0);
    }

    [Theory]
    [InlineData("""{"fallbacks":["no-such-model"]}""", "unknown_fallback_model")]
    [InlineData("""{"fallbacks":["sim-flaky"]}""", "fallback_to_self")]
    [InlineData("""{"fallbacks":["sim-chat","sim-chat"]}""", "duplicate_fallback")]
    [InlineData("""{"fallbacks":["sim-chat","sim-claude","gpt-4o-mini","claude-sonnet-4-5","gemini-2-5-flash","llama3.1"]}""", "fallback_chain_too_long")]
    [InlineData("""{"fallbacks":"sim-chat"}""", null)]
    public async Task A_chain_that_makes_no_sense_is_refused(string body, string? code)
    {
        var (workspace, _) = await gateway.NewWorkspaceWithKeyAsync(0);

        var response = await gateway.AdminClient().PutAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-flaky",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.JsonAsync())["error"]!;
        error["param"]!.GetValue<string>().ShouldBe("fallbacks");
        if (code is not null)
            error["code"]!.GetValue<string>().ShouldBe(code);
    }

    [Fact]
    public async Task Unknown_workspaces_and_models_are_not_found()
    {
        var (workspace, _) = await gateway.NewWorkspaceWithKeyAsync(0);
        var admin = gateway.AdminClient();

        (await admin.GetAsync($"/admin/v1/workspaces/{workspace}/fallbacks/no-such-model")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await admin.PutAsJsonAsync($"/admin/v1/workspaces/{workspace}/fallbacks/no-such-model", new { fallbacks = new[] { "sim-chat" } }))
            .StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await admin.PutAsJsonAsync("/admin/v1/workspaces/ws_doesnotexist/fallbacks/sim-flaky", new { fallbacks = new[] { "sim-chat" } }))
            .StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_stream_falls_back_before_its_first_byte_and_every_chunk_names_what_served()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        var chat = GatewayClients.OpenAi(gateway, key).GetChatClient("sim-flaky");

        var models = new List<string>();
        var text = "";
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Tell me something")]))
        {
            models.Add(update.Model);
            text += string.Concat(update.ContentUpdate.Select(p => p.Text));
        }

        text.ShouldNotBeEmpty();
        models.ShouldNotBeEmpty();
        models.ShouldAllBe(m => m == "sim-chat");

        var raw = await gateway.KeyClient(key).ChatAsync("sim-flaky", "Tell me something", stream: true);
        raw.Header("x-model-used").ShouldBe("sim-chat");
        raw.Header("x-fallback-from").ShouldBe("sim-flaky");
        raw.Header("x-fallback-depth").ShouldBe("1");
        await raw.Content.ReadAsStringAsync();
        var requestId = raw.Header("x-request-id");
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldBe(1);
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(1);
    }

    [Fact]
    public async Task A_failure_mid_stream_does_not_fall_back_and_charges_what_was_sent()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        (await gateway.AdminClient().PutAsJsonAsync($"/admin/v1/workspaces/{workspace}/fallbacks/sim-chat", new { fallbacks = new[] { "sim-claude" } }))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        var response = await gateway.KeyClient(key).ChatAsync("sim-chat", "Write a long story about a lighthouse keeper [[sim:fail-after:3]]", stream: true);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("sim-chat");
        var events = GatewayClients.SseData(await response.Content.ReadAsStringAsync());
        events.Where(e => e["choices"] is { } c && c.AsArray().Count > 0).ShouldAllBe(e => e["model"]!.GetValue<string>() == "sim-chat");
        events.ShouldContain(e => e["credits_used"] != null);
        events.Last()["error"].ShouldNotBeNull();
        var requestId = response.Header("x-request-id");
        (await RequestEvents.CountAsync(gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldBe(0);
        (await RequestEvents.ChargedAsync(gateway.ConnectionString, requestId)).ShouldBeGreaterThan(0);
    }
}
