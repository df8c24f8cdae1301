// A local Anthropic Messages API: POST /v1/messages (JSON and SSE) and GET /v1/models, with the
// shapes Anthropic documents.
//
// Checked like api.anthropic.com checks them: the key (x-api-key, or Authorization: Bearer as
// the current SDKs send it) and the anthropic-version header,
// model, max_tokens and messages required, no top-level field the API does not know ("Extra
// inputs are not permitted" is what a gateway leaking OpenAI fields would get), roles only
// user/assistant (system goes in the top-level `system`), no empty text blocks, every
// tool_result answering a tool_use of the previous assistant turn, tools with an input_schema,
// temperature within 0..1. Errors are {"type":"error","error":{type,message},"request_id"}.
// Streams follow the documented event sequence: message_start, a ping, per content block
// content_block_start / content_block_delta (text_delta or input_json_delta) /
// content_block_stop, message_delta with stop_reason and the output usage, message_stop;
// in-stream failures are an `error` event (overloaded_error).
import { parsePlan, answerPieces, plannedCalls, splitN, words, sleep, streamPieces, stallForever,
  startServer } from './common.mjs';

let seq = 0;
const antError = (type, message) => ({ type: 'error', error: { type, message }, request_id: `req_mock${++seq}` });

const TOP_LEVEL = new Set(['model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences',
  'stream', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice', 'thinking', 'service_tier',
  'container', 'mcp_servers']);

function blocksOf(content) {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

function checkMessages(b) {
  const bad = (msg) => [400, antError('invalid_request_error', msg)];
  if (!b || typeof b !== 'object' || Array.isArray(b)) return bad('The request body is not valid JSON.');
  for (const k of Object.keys(b)) if (!TOP_LEVEL.has(k)) return bad(`${k}: Extra inputs are not permitted`);
  if (typeof b.model !== 'string') return bad('model: Field required');
  if (b.max_tokens === undefined) return bad('max_tokens: Field required');
  if (!Number.isInteger(b.max_tokens) || b.max_tokens < 1) return bad('max_tokens: Input should be a valid integer greater than or equal to 1');
  if (!Array.isArray(b.messages)) return bad('messages: Field required');
  if (b.system !== undefined && typeof b.system !== 'string' &&
      !(Array.isArray(b.system) && b.system.every((x) => x?.type === 'text' && typeof x.text === 'string')))
    return bad('system: Input should be a valid string or a list of text blocks');
  if (b.temperature !== undefined && (typeof b.temperature !== 'number' || b.temperature < 0 || b.temperature > 1))
    return bad('temperature: Input should be less than or equal to 1');
  if (b.stop_sequences !== undefined && !(Array.isArray(b.stop_sequences) && b.stop_sequences.every((s) => typeof s === 'string')))
    return bad('stop_sequences: Input should be a valid list');
  let pendingToolUse = null;   // ids the previous assistant turn asked for
  for (const [i, m] of b.messages.entries()) {
    if (m?.role !== 'user' && m?.role !== 'assistant') {
      if (m?.role === 'system')
        return bad(`messages.${i}.role: Unexpected role "system". The Messages API accepts a top-level \`system\` parameter, not "system" as an input message role.`);
      return bad(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    const blocks = blocksOf(m.content);
    if (!Array.isArray(blocks)) return bad(`messages.${i}.content: Input should be a valid list`);
    const last = i === b.messages.length - 1;
    if (!blocks.length && !(last && m.role === 'assistant'))
      return bad(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
    const results = new Set();
    for (const [j, blk] of blocks.entries()) {
      const where = `messages.${i}.content.${j}`;
      if (blk?.type === 'text') {
        if (typeof blk.text !== 'string') return bad(`${where}.text: Field required`);
        if (!blk.text.length) return bad('messages: text content blocks must be non-empty');
      } else if (blk?.type === 'tool_use') {
        if (m.role !== 'assistant') return bad(`${where}: tool_use blocks are only allowed in assistant messages`);
        if (typeof blk.id !== 'string' || typeof blk.name !== 'string') return bad(`${where}.id: Field required`);
        if (!blk.input || typeof blk.input !== 'object' || Array.isArray(blk.input)) return bad(`${where}.input: Input should be a valid dictionary`);
      } else if (blk?.type === 'tool_result') {
        if (m.role !== 'user') return bad(`${where}: tool_result blocks are only allowed in user messages`);
        if (!pendingToolUse || !pendingToolUse.has(blk.tool_use_id))
          return bad(`${where}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${blk.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
        results.add(blk.tool_use_id);
      } else if (blk?.type !== 'image' && blk?.type !== 'document') {
        return bad(`${where}.type: Input tag '${blk?.type}' found using 'type' does not match any of the expected tags`);
      }
    }
    if (pendingToolUse && pendingToolUse.size) {
      const missing = [...pendingToolUse].filter((id) => !results.has(id));
      if (missing.length)
        return bad(`messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
    pendingToolUse = m.role === 'assistant' ? new Set(blocks.filter((x) => x.type === 'tool_use').map((x) => x.id)) : null;
  }
  if (!b.messages.length) return bad('messages: at least one message is required');
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) return bad('tools: Input should be a valid list');
    for (const [i, t] of b.tools.entries()) {
      if (typeof t?.name !== 'string') return bad(`tools.${i}.name: Field required`);
      if (!t.input_schema || t.input_schema.type !== 'object') return bad(`tools.${i}.custom.input_schema: Field required`);
      for (const k of Object.keys(t)) if (!['name', 'description', 'input_schema', 'type', 'cache_control'].includes(k))
        return bad(`tools.${i}.custom.${k}: Extra inputs are not permitted`);
    }
  }
  if (b.tool_choice !== undefined && !['auto', 'any', 'tool', 'none'].includes(b.tool_choice?.type))
    return bad("tool_choice.type: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
  if (b.tool_choice?.type === 'tool' && typeof b.tool_choice.name !== 'string') return bad('tool_choice.tool.name: Field required');
  return null;
}

function faultAnswer(status, plan) {
  const headers = {};
  if (plan.retryAfter !== null) headers['retry-after'] = String(plan.retryAfter);
  const by = {
    400: ['invalid_request_error', 'messages.0.content: mock rejected the request'],
    401: ['authentication_error', 'invalid x-api-key'],
    403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
    404: ['not_found_error', 'Not found'],
    413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
    429: ['rate_limit_error', 'This request would exceed the rate limit for your organization of 50 requests per minute.'],
    529: ['overloaded_error', 'Overloaded'],
  };
  const [type, message] = by[status] ?? ['api_error', 'Internal server error'];
  return [headers, antError(type, message)];
}

// The key as x-api-key, or (as the current SDKs send it) Authorization: Bearer.
function authOk(ctx) {
  const key = ctx.mock.opts.apiKey;
  if (!key) return true;
  const bearer = /^Bearer (.+)$/.exec(ctx.req.headers.authorization ?? '')?.[1];
  const got = ctx.req.headers['x-api-key'] ?? bearer;
  if (!got) { ctx.json(401, antError('authentication_error', 'x-api-key header is required')); return false; }
  if (got !== key) { ctx.json(401, antError('authentication_error', 'invalid x-api-key')); return false; }
  return true;
}

async function messages(ctx) {
  const { req } = ctx;
  const key = ctx.mock.opts.apiKey;
  if (!authOk(ctx)) return;
  if (!req.headers['anthropic-version'])
    return ctx.json(400, antError('invalid_request_error', 'anthropic-version: header is required'));
  if (ctx.rec.bodyError) return ctx.json(400, antError('invalid_request_error', `There was an issue with your request body: ${ctx.rec.bodyError}`));
  const b = ctx.rec.body;
  const bad = checkMessages(b);
  if (bad) return ctx.json(...bad);
  const plan = parsePlan(b.model);
  if (plan.unknown) return ctx.json(404, antError('not_found_error', `model: ${b.model}`));
  if (ctx.faultApplies(plan)) { const [h, body] = faultAnswer(plan.status, plan); return ctx.json(plan.status, body, h); }
  const stream = b.stream === true;
  if (plan.hang) return stallForever(ctx, false);
  if (!stream && plan.reset >= 0) return ctx.res.socket.destroy();
  if (!stream && plan.stall >= 0) { ctx.res.writeHead(200, { 'content-type': 'application/json' }); return stallForever(ctx); }

  const textOf = (m) => blocksOf(m.content).filter((x) => x.type === 'text').map((x) => x.text).join(' ');
  const users = b.messages.filter((m) => m.role === 'user').map(textOf).filter((t) => t.length);
  const userText = users.length ? users[users.length - 1] : '';
  const system = typeof b.system === 'string' ? b.system : (b.system ?? []).map((x) => x.text).join(' ');
  const input = words(system).length + b.messages.reduce((a, m) => a + words(textOf(m)).length, 0);
  let ans = answerPieces(userText, plan, b.max_tokens);
  let stopReason = ans.truncated ? 'max_tokens' : 'end_turn';
  let stopSeq = null;
  // stop_sequences: cut the answer at the first one that occurs in it.
  for (const s of b.stop_sequences ?? []) {
    const at = ans.text.indexOf(s);
    if (s && at >= 0) {
      const kept = ans.text.slice(0, at);
      ans = { ...ans, text: kept, pieces: kept.split(/(?= )/).filter((x) => x.length) };
      stopReason = 'stop_sequence'; stopSeq = s;
      break;
    }
  }
  const calls = b.tool_choice?.type === 'none' ? []
    : plannedCalls(plan, (b.tools ?? []).map((t) => ({ name: t.name, schema: t.input_schema })), userText);
  const tool = calls.length > 0;
  const id = `msg_mock${++seq}`;
  const toolId = (i) => `toolu_mock${seq}_${i}`;
  const preface = tool ? `Calling ${calls.map((c) => c.name).join(', ')}.` : '';
  const out = tool ? words(preface).length + calls.reduce((a, c) => a + words(JSON.stringify(c.args)).length, 0) : ans.pieces.length;
  if (tool) stopReason = 'tool_use';
  // Anthropic counts cache reads apart: input_tokens is what was not read from the cache.
  const usage = { input_tokens: input - plan.cached, cache_creation_input_tokens: 0, cache_read_input_tokens: plan.cached, output_tokens: out };

  if (!stream) {
    if (plan.slowMs) await sleep(plan.slowMs);
    const content = tool ? [{ type: 'text', text: preface }, ...calls.map((c, i) => ({ type: 'tool_use', id: toolId(i), name: c.name, input: c.args }))]
      : [{ type: 'text', text: ans.text }];
    return ctx.json(200, { id, type: 'message', role: 'assistant', model: b.model, content,
      stop_reason: stopReason, stop_sequence: stopSeq, usage }, { 'request-id': `req_mock${seq}` });
  }

  ctx.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache',
    'request-id': `req_mock${seq}` });
  const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  ctx.res.write(ev('message_start', { message: { id, type: 'message', role: 'assistant', model: b.model, content: [],
    stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }));
  const frames = [];
  if (tool) {
    frames.push(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) + ev('ping', {}));
    frames.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: preface } }));
    frames.push(ev('content_block_stop', { index: 0 }));
    for (const [i, c] of calls.entries()) {
      const k = i + 1;
      frames.push(ev('content_block_start', { index: k, content_block: { type: 'tool_use', id: toolId(i), name: c.name, input: {} } }) +
        ev('content_block_delta', { index: k, delta: { type: 'input_json_delta', partial_json: '' } }));
      for (const f of splitN(JSON.stringify(c.args), 3))
        frames.push(ev('content_block_delta', { index: k, delta: { type: 'input_json_delta', partial_json: f } }));
      frames.push(ev('content_block_stop', { index: k }));
    }
  } else {
    frames.push(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) + ev('ping', {}));
    for (const p of ans.pieces) frames.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }));
    frames.push(ev('content_block_stop', { index: 0 }));
  }
  // Faults count content pieces: skip the opening frame so "reset-2" cuts after two deltas.
  ctx.res.write(frames[0]);
  const rest = frames.slice(1);
  const ok = await streamPieces(ctx, plan, rest.length, (i) => rest[i],
    () => 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"oops"\n\n',
    () => `event: error\ndata: ${JSON.stringify(antError('overloaded_error', 'Overloaded'))}\n\n`);
  if (!ok) return;
  ctx.res.write(ev('message_delta', { delta: { stop_reason: stopReason, stop_sequence: stopSeq }, usage: { output_tokens: out } }));
  ctx.res.end(ev('message_stop', {}));
}

export async function startAnthropic(opts = {}) {
  const models = opts.models ?? ['claude-3-5-haiku-latest'];
  const mock = await startServer('anthropic', async (ctx) => {
    const { method } = ctx.req;
    const p = ctx.rec.path;
    if (method === 'POST' && p === '/v1/messages') return messages(ctx);
    if (method === 'GET' && p === '/v1/models') {
      if (!authOk(ctx)) return;
      if (!ctx.req.headers['anthropic-version'])
        return ctx.json(400, antError('invalid_request_error', 'anthropic-version: header is required'));
      return ctx.json(200, { data: models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2024-10-22T00:00:00Z' })),
        has_more: false, first_id: models[0] ?? null, last_id: models[models.length - 1] ?? null });
    }
    ctx.json(404, antError('not_found_error', 'Not Found'));
  }, opts);
  return { ...mock, baseUrl: mock.url };
}
