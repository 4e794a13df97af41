// Checks the gateway with the official openai Node SDK, as a user who only changed baseURL and apiKey would call it.
// Usage: INFERY_BASE_URL=http://127.0.0.1:8080/v1 INFERY_API_KEY=inf_... node check.mjs
// Exits 0 when every check passes; otherwise prints which one failed and why, and exits 1.
import OpenAI, { APIError } from "openai";

const baseURL = process.env.INFERY_BASE_URL;
const apiKey = process.env.INFERY_API_KEY;
if (!baseURL || !apiKey) {
  console.error("Set INFERY_BASE_URL (ending in /v1) and INFERY_API_KEY.");
  process.exit(2);
}

const model = process.env.INFERY_MODEL ?? "sim-chat";
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const checks = {
  async "models.list returns the catalog"() {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert(ids.includes(model), `expected ${model} among the models, got ${JSON.stringify(ids)}`);
  },

  async "chat completion without streaming"() {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Say hello from Node." }],
    });
    assert(completion.object === "chat.completion", `object was ${completion.object}`);
    assert(completion.model === model, `model was ${completion.model}`);
    const text = completion.choices[0]?.message?.content;
    assert(typeof text === "string" && text.length > 0, "the reply has no text");
    assert(completion.usage?.total_tokens > 0, "the reply has no usage");
  },

  async "streamed chat completion with include_usage"() {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Stream a short reply." }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage = null;
    let finishReason = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta?.content) text += choice.delta.content;
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert(text.length > 0, "no text arrived");
    assert(finishReason === "stop", `finish_reason was ${finishReason}`);
    assert(usage && usage.completion_tokens > 0, `usage did not arrive: ${JSON.stringify(usage)}`);
  },

  async "tool call"() {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Current weather for a city",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        },
      ],
      tool_choice: "auto",
    });
    const choice = completion.choices[0];
    assert(choice.finish_reason === "tool_calls", `finish_reason was ${choice.finish_reason}`);
    const call = choice.message.tool_calls?.[0];
    assert(call?.function?.name === "get_weather", `expected a get_weather call, got ${JSON.stringify(choice.message)}`);
    const args = JSON.parse(call.function.arguments);
    assert(typeof args.city === "string", `arguments lack city: ${call.function.arguments}`);
  },

  async "JSON mode"() {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Answer in JSON." }],
      response_format: { type: "json_object" },
    });
    const content = completion.choices[0].message.content;
    const parsed = JSON.parse(content);
    assert(parsed !== null && typeof parsed === "object", `content is not a JSON object: ${content}`);
  },

  async "unknown model is a 404 APIError with code model_not_found"() {
    try {
      await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] });
    } catch (error) {
      assert(error instanceof APIError, `expected an APIError, got ${error?.constructor?.name}: ${error}`);
      assert(error.status === 404, `status was ${error.status}`);
      assert(error.code === "model_not_found", `code was ${error.code}`);
      return;
    }
    throw new Error("the request succeeded");
  },
};

let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    console.log(`ok   ${name}`);
  } catch (error) {
    failed++;
    console.error(`FAIL ${name}: ${error?.stack ?? error}`);
  }
}
console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
