// A local Ollama server: POST /api/chat (NDJSON stream by default, one JSON object with
// "stream": false), POST /api/embed, GET /api/tags and /api/version, with the shapes Ollama
// documents.
//
// Checked like Ollama checks them: model required and known (404 "model ... not found, try
// pulling it first"), roles system/user/assistant/tool, and a tool call's
// function.arguments an object (Ollama's Go types reject the string OpenAI uses, which is the
// mistake a gateway would make). Ollama takes no key; when the mock is given one it expects it
// as Authorization: Bearer, as a proxied or hosted Ollama does. Errors are {"error":"..."}; a
// failure inside a stream is one {"error":"..."} line. The final streamed line has done:true,
// done_reason, prompt_eval_count and eval_count (and durations in nanoseconds).
import { parsePlan, hasBehaviour, answerPieces, plannedCalls, embed, words, sleep, streamPieces, stallForever,
  startServer } from './common.mjs';

const now = () => new Date().toISOString();

function checkChat(b, models) {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return [400, { error: 'invalid request body' }];
  if (typeof b.model !== 'string' || !b.model) return [400, { error: 'model is required' }];
  if (b.messages !== undefined && !Array.isArray(b.messages))
    return [400, { error: 'json: cannot unmarshal object into Go struct field ChatRequest.messages of type []api.Message' }];
  for (const m of b.messages ?? []) {
    if (!['system', 'user', 'assistant', 'tool'].includes(m?.role))
      return [400, { error: `invalid role: ${m?.role}` }];
    if (m.content !== undefined && typeof m.content !== 'string')
      return [400, { error: 'json: cannot unmarshal array into Go struct field Message.messages.content of type string' }];
    for (const tc of m.tool_calls ?? []) {
      const a = tc?.function?.arguments;
      if (typeof a === 'string')
        return [400, { error: 'json: cannot unmarshal string into Go struct field ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments' }];
      if (typeof tc?.function?.name !== 'string') return [400, { error: 'invalid tool call: missing function name' }];
    }
  }
  if (b.options !== undefined && (typeof b.options !== 'object' || Array.isArray(b.options)))
    return [400, { error: 'json: cannot unmarshal into Go struct field ChatRequest.options of type map[string]interface {}' }];
  // Known: an installed model (with or without ":latest"), or a name carrying a mock behaviour.
  const plan = parsePlan(b.model);
  const known = models.some((m) => m === b.model || m === `${b.model}:latest`) || /^echo/.test(b.model) || hasBehaviour(plan);
  if (plan.unknown || !known) return [404, { error: `model "${b.model}" not found, try pulling it first` }];
  return null;
}

let seq = 0;

async function chat(ctx, models) {
  if (ctx.rec.bodyError) return ctx.json(400, { error: `invalid character in JSON body: ${ctx.rec.bodyError}` });
  const b = ctx.rec.body;
  const bad = checkChat(b, models);
  if (bad) return ctx.json(...bad);
  const plan = parsePlan(b.model);
  if (ctx.faultApplies(plan)) {
    const h = plan.retryAfter !== null ? { 'retry-after': String(plan.retryAfter) } : {};
    const msg = plan.status === 503 ? 'server busy, please try again.  maximum pending requests exceeded'
      : plan.status === 429 ? 'too many requests' : plan.status === 400 ? 'mock rejected the request' : 'llama runner process has terminated: exit status 2';
    return ctx.json(plan.status, { error: msg }, h);
  }
  const stream = b.stream !== false;   // Ollama streams unless told not to
  if (plan.hang) return stallForever(ctx, false);
  if (!stream && plan.reset >= 0) return ctx.res.socket.destroy();
  if (!stream && plan.stall >= 0) { ctx.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }); return stallForever(ctx); }
  const msgs = b.messages ?? [];
  const users = msgs.filter((m) => m.role === 'user').map((m) => m.content ?? '').filter((t) => t.length);
  const userText = users.length ? users[users.length - 1] : '';
  const prompt = msgs.reduce((a, m) => a + words(m.content ?? '').length, 0);
  const ans = answerPieces(userText, plan, b.options?.num_predict ?? Infinity);
  // Ollama's stop option: the output ends before the first stop string.
  let text = ans.text;
  let pieces = ans.pieces;
  for (const s of b.options?.stop ?? []) {
    const at = text.indexOf(s);
    if (s && at >= 0) { text = text.slice(0, at); pieces = text.split(/(?= )/).filter((x) => x.length); break; }
  }
  const planned = plannedCalls(plan, (Array.isArray(b.tools) ? b.tools : []).map((t) => ({ name: t.function?.name, schema: t.function?.parameters })), userText);
  const tool = planned.length > 0;
  const calls = planned.map((c) => ({ function: { name: c.name, arguments: c.args } }));
  const evalCount = tool ? planned.reduce((a, c) => a + words(JSON.stringify(c.args)).length, 0) : pieces.length;
  const reason = ans.truncated && !tool ? 'length' : 'stop';
  const stats = { total_duration: 123456789, load_duration: 1234567, prompt_eval_count: prompt,
    prompt_eval_duration: 2345678, eval_count: evalCount, eval_duration: 98765432 };
  seq++;

  if (!stream) {
    if (plan.slowMs) await sleep(plan.slowMs);
    const message = tool ? { role: 'assistant', content: '', tool_calls: calls } : { role: 'assistant', content: text };
    return ctx.json(200, { model: b.model, created_at: now(), message, done_reason: reason, done: true, ...stats },
      { 'content-type': 'application/json; charset=utf-8' });
  }
  ctx.res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const line = (o) => JSON.stringify(o) + '\n';
  const frames = tool
    ? [line({ model: b.model, created_at: now(), message: { role: 'assistant', content: '', tool_calls: calls }, done: false })]
    : pieces.map((p) => line({ model: b.model, created_at: now(), message: { role: 'assistant', content: p }, done: false }));
  const ok = await streamPieces(ctx, plan, frames.length, (i) => frames[i],
    () => '{"model":"' + b.model + '","message":{"role":"assistant","content":"oops"\n',
    () => line({ error: 'an error was encountered while running the model: unexpected EOF' }));
  if (!ok) return;
  ctx.res.end(line({ model: b.model, created_at: now(), message: { role: 'assistant', content: '' }, done_reason: reason, done: true, ...stats }));
}

function embedEndpoint(ctx, models) {
  if (ctx.rec.bodyError) return ctx.json(400, { error: `invalid character in JSON body: ${ctx.rec.bodyError}` });
  const b = ctx.rec.body ?? {};
  if (typeof b.model !== 'string' || !b.model) return ctx.json(400, { error: 'model is required' });
  const plan = parsePlan(b.model);
  if (plan.unknown || !models.some((m) => m === b.model || m === `${b.model}:latest`))
    return ctx.json(404, { error: `model "${b.model}" not found, try pulling it first` });
  if (ctx.faultApplies(plan)) return ctx.json(plan.status, { error: 'mock fault' });
  const inputs = Array.isArray(b.input) ? b.input : b.input === undefined ? [] : [b.input];
  if (inputs.some((x) => typeof x !== 'string')) return ctx.json(400, { error: 'invalid input type' });
  const dims = b.dimensions ?? 8;
  ctx.json(200, { model: b.model, embeddings: inputs.map((t) => embed(t, dims)), total_duration: 14143917,
    load_duration: 1019500, prompt_eval_count: inputs.reduce((a, t) => a + words(t).length, 0) });
}

export async function startOllama(opts = {}) {
  const models = opts.models ?? ['llama3.2:latest', 'qwen2.5:0.5b', 'all-minilm:latest'];
  const mock = await startServer('ollama', async (ctx) => {
    const { method } = ctx.req;
    const p = ctx.rec.path;
    const key = ctx.mock.opts.apiKey;
    if (key && ctx.req.headers.authorization !== `Bearer ${key}`) return ctx.json(401, { error: 'unauthorized' });
    if (method === 'POST' && p === '/api/chat') return chat(ctx, models);
    if (method === 'POST' && p === '/api/embed') return embedEndpoint(ctx, models);
    if (method === 'GET' && p === '/api/tags')
      return ctx.json(200, { models: models.map((name, i) => ({ name, model: name, modified_at: '2025-01-0' + (i + 1) + 'T10:00:00.000000000Z',
        size: 1000000 * (i + 1), digest: (String(i + 1).repeat(64)).slice(0, 64),
        details: { parent_model: '', format: 'gguf', family: name.startsWith('qwen') ? 'qwen2' : 'llama',
          families: [name.startsWith('qwen') ? 'qwen2' : 'llama'], parameter_size: name.includes('0.5b') ? '494.03M' : '3.2B',
          quantization_level: 'Q4_K_M' } })) });
    if (method === 'GET' && p === '/api/version') return ctx.json(200, { version: '0.6.2' });
    if (method === 'GET' && p === '/') { ctx.res.writeHead(200, { 'content-type': 'text/plain' }); return ctx.res.end('Ollama is running'); }
    ctx.res.writeHead(404, { 'content-type': 'text/plain' });
    ctx.res.end('404 page not found');
  }, opts);
  return { ...mock, baseUrl: mock.url };
}
