// The official `openai` npm package against the server: completion and chat, streamed and not.
// Usage: node openai-client.mjs BASE_URL MODEL PROMPT MAX_TOKENS; prints one JSON object.
import OpenAI from 'openai';

const [base, model, prompt, max] = process.argv.slice(2);
const maxTokens = Number(max);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 });
const out = {};

const c = await client.completions.create({ model, prompt, max_tokens: maxTokens, temperature: 0 });
out.completion = c.choices[0].text;
out.completionFinish = c.choices[0].finish_reason;
out.completionUsage = c.usage;

let text = '';
const cs = await client.completions.create({ model, prompt, max_tokens: maxTokens, temperature: 0, stream: true });
for await (const chunk of cs) {
  text += chunk.choices[0]?.text ?? '';
}
out.completionStream = text;

const messages = [{ role: 'user', content: prompt }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0 });
out.chat = chat.choices[0].message.content;
out.chatFinish = chat.choices[0].finish_reason;

let chatText = '';
const st = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0,
  stream: true, stream_options: { include_usage: true } });
for await (const chunk of st) {
  chatText += chunk.choices[0]?.delta?.content ?? '';
  if (chunk.usage) out.chatStreamUsage = chunk.usage;
}
out.chatStream = chatText;

try {
  await client.completions.create({ model, prompt, n: 2 });
  out.n2 = 'accepted';
} catch (e) {
  out.n2 = { status: e.status, message: e.message };
}
console.log(JSON.stringify(out));
