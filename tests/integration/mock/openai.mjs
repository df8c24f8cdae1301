// A local OpenAI API: POST /v1/chat/completions (JSON and SSE), /v1/completions,
// /v1/embeddings, GET /v1/models and /v1/models/{id}, with the shapes OpenAI documents.
//
// It checks a request the way api.openai.com does where a gateway could get it wrong: the
// Authorization: Bearer key, a JSON body, model and messages present, roles known, every tool
// message answering a tool call made earlier, tool_calls with string arguments, stream_options
// only with stream, tools of type "function". Errors come in OpenAI's
// {"error":{message,type,param,code}} shape with its status codes. Streams are
// chat.completion.chunk objects, one word per chunk, the role on the first, tool calls as
// indexed deltas (id and name first, arguments in fragments), a final chunk with the
// finish_reason, the usage-only chunk when stream_options.include_usage, then "data: [DONE]".
import { parsePlan, answerPieces, plannedCalls, splitN, embed, words, sleep, streamPieces,
  stallForever, startServer } from './common.mjs';

const oaiError = (message, type, param = null, code = null) => ({ error: { message, type, param, code } });

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((p) => p?.type === 'text').map((p) => p.text).join('');
  return '';
}

// The request check; returns [status, body] for the first problem, or null.
function checkChat(b, stream) {
  if (!b || typeof b !== 'object' || Array.isArray(b))
    return [400, oaiError('We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)', 'invalid_request_error')];
  if (typeof b.model !== 'string' || !b.model)
    return [400, oaiError('you must provide a model parameter', 'invalid_request_error')];
  if (!Array.isArray(b.messages))
    return [400, oaiError("Missing required parameter: 'messages'.", 'invalid_request_error', 'messages', 'missing_required_parameter')];
  if (!b.messages.length)
    return [400, oaiError("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'invalid_request_error', 'messages', 'empty_array')];
  const callIds = new Set();
  for (const [i, m] of b.messages.entries()) {
    if (!['system', 'developer', 'user', 'assistant', 'tool'].includes(m?.role))
      return [400, oaiError(`Invalid value: '${m?.role}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'developer'.`, 'invalid_request_error', `messages[${i}].role`, 'invalid_value')];
    if (m.role === 'assistant' && m.tool_calls !== undefined) {
      if (!Array.isArray(m.tool_calls))
        return [400, oaiError(`Invalid type for 'messages[${i}].tool_calls': expected an array.`, 'invalid_request_error', `messages[${i}].tool_calls`, 'invalid_type')];
      for (const [j, tc] of m.tool_calls.entries()) {
        if (typeof tc?.id !== 'string' || tc.type !== 'function' || typeof tc.function?.name !== 'string' ||
            typeof tc.function?.arguments !== 'string')
          return [400, oaiError(`Invalid 'messages[${i}].tool_calls[${j}]': expected {id, type: 'function', function: {name, arguments: string}}.`, 'invalid_request_error', `messages[${i}].tool_calls[${j}]`, 'invalid_type')];
        callIds.add(tc.id);
      }
    }
    if (m.role === 'tool' && !callIds.has(m.tool_call_id))
      return [400, oaiError("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", 'invalid_request_error', `messages.[${i}].role`, null)];
  }
  if (b.stream_options != null && !stream)
    return [400, oaiError("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'invalid_request_error', 'stream_options', null)];
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools))
      return [400, oaiError("Invalid type for 'tools': expected an array.", 'invalid_request_error', 'tools', 'invalid_type')];
    for (const [i, t] of b.tools.entries())
      if (t?.type !== 'function' || typeof t.function?.name !== 'string')
        return [400, oaiError(`Missing required parameter: 'tools[${i}].function'.`, 'invalid_request_error', `tools[${i}].function`, 'missing_required_parameter')];
  }
  if (b.temperature !== undefined && (typeof b.temperature !== 'number' || b.temperature < 0 || b.temperature > 2))
    return [400, oaiError(`Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got ${b.temperature} instead.`, 'invalid_request_error', 'temperature', 'decimal_above_max_value')];
  return null;
}

// The error answer for a fault status, as OpenAI words them.
function faultAnswer(status, plan) {
  const headers = {};
  if (plan.retryAfter !== null) headers['retry-after'] = String(plan.retryAfter);
  if (status === 429) {
    headers['x-ratelimit-limit-requests'] = '60';
    headers['x-ratelimit-remaining-requests'] = '0';
    return [headers, oaiError('Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s.', 'requests', null, 'rate_limit_exceeded')];
  }
  if (status === 401) return [headers, oaiError('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key')];
  if (status === 400) return [headers, oaiError("Invalid 'messages[0].content': mock rejected the request.", 'invalid_request_error', 'messages', 'invalid_value')];
  if (status === 503) return [headers, oaiError('The engine is currently overloaded, please try again later.', 'server_error')];
  return [headers, oaiError('The server had an error while processing your request. Sorry about that!', 'server_error')];
}

function authCheck(ctx) {
  const key = ctx.mock.opts.apiKey;
  if (!key) return true;
  const h = ctx.req.headers.authorization;
  if (!h) {
    ctx.json(401, oaiError("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.", 'invalid_request_error'));
    return false;
  }
  const m = /^Bearer (.+)$/.exec(h);
  if (!m || m[1] !== key) {
    const shown = m ? `${m[1].slice(0, 3)}*****${m[1].slice(-4)}` : h;
    ctx.json(401, oaiError(`Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', null, 'invalid_api_key'));
    return false;
  }
  return true;
}

let seq = 0;

async function chat(ctx, completions) {
  const b = ctx.rec.body;
  if (ctx.rec.bodyError) return ctx.json(...checkChat(undefined, false));
  const stream = b?.stream === true;
  if (!completions) {
    const bad = checkChat(b, stream);
    if (bad) return ctx.json(...bad);
  } else if (typeof b?.model !== 'string' || b.prompt === undefined) {
    return ctx.json(400, oaiError("Missing required parameter: 'prompt'.", 'invalid_request_error', 'prompt', 'missing_required_parameter'));
  }
  const plan = parsePlan(b.model);
  if (plan.unknown)
    return ctx.json(404, oaiError(`The model \`${b.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', null, 'model_not_found'));
  if (ctx.faultApplies(plan)) {
    const [h, body] = faultAnswer(plan.status, plan);
    return ctx.json(plan.status, body, h);
  }
  if (plan.hang) return stallForever(ctx, false);
  if (!stream && plan.reset >= 0) return ctx.res.socket.destroy();
  if (!stream && plan.stall >= 0) { ctx.res.writeHead(200, { 'content-type': 'application/json' }); return stallForever(ctx); }

  const texts = completions ? [Array.isArray(b.prompt) ? b.prompt.join(' ') : String(b.prompt)]
    : b.messages.filter((m) => m.role === 'user').map((m) => textOf(m.content));
  const userText = texts.length ? texts[texts.length - 1] : '';
  const allText = completions ? userText : b.messages.map((m) => textOf(m.content)).join(' ');
  const limit = b.max_completion_tokens ?? b.max_tokens ?? Infinity;
  const ans = answerPieces(userText, plan, limit);
  const calls = completions || b.tool_choice === 'none' ? []
    : plannedCalls(plan, (b.tools ?? []).map((t) => ({ name: t.function.name, schema: t.function.parameters })), userText)
      .map((c, i) => ({ id: `call_mock${seq + 1}_${i}`, name: c.name, args: JSON.stringify(c.args) }));
  const tool = calls.length > 0;
  const id = `${completions ? 'cmpl' : 'chatcmpl'}-mock${++seq}`;
  const created = Math.floor(Date.now() / 1000);
  const prompt = words(allText).length;
  const completion = tool ? calls.reduce((a, c) => a + words(c.args).length + 1, 0) : ans.pieces.length;
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: plan.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
  const finish = tool ? 'tool_calls' : ans.truncated ? 'length' : 'stop';

  if (!stream) {
    if (plan.slowMs) await sleep(plan.slowMs);
    if (completions)
      return ctx.json(200, { id, object: 'text_completion', created, model: b.model,
        choices: [{ text: ans.text, index: 0, logprobs: null, finish_reason: finish }], usage });
    const message = tool
      ? { role: 'assistant', content: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })), refusal: null, annotations: [] }
      : { role: 'assistant', content: ans.text, refusal: null, annotations: [] };
    return ctx.json(200, { id, object: 'chat.completion', created, model: b.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage,
      service_tier: 'default', system_fingerprint: 'fp_mock' }, { 'x-request-id': `req_mock${seq}` });
  }

  ctx.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache',
    'x-request-id': `req_mock${seq}` });
  const withUsage = b.stream_options?.include_usage === true;
  const base = completions ? { id, object: 'text_completion', created, model: b.model }
    : { id, object: 'chat.completion.chunk', created, model: b.model, service_tier: 'default', system_fingerprint: 'fp_mock' };
  const ev = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, choices, ...(withUsage ? { usage: null } : {}), ...extra })}\n\n`;
  const choice = (delta, fin = null) => completions
    ? { text: delta.content ?? '', index: 0, logprobs: null, finish_reason: fin }
    : { index: 0, delta, logprobs: null, finish_reason: fin };
  let pieces;
  if (tool) {
    // Calls stream one after the other: id and name first, then the arguments in pieces.
    pieces = calls.flatMap((c, i) => [
      ev([choice({ ...(i === 0 ? { role: 'assistant', content: null, refusal: null } : {}),
        tool_calls: [{ index: i, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] })]),
      ...splitN(c.args, 3).map((f) => ev([choice({ tool_calls: [{ index: i, function: { arguments: f } }] })])),
    ]);
  } else {
    pieces = ans.pieces.map((p, i) => ev([choice(i === 0 && !completions ? { role: 'assistant', content: p, refusal: null } : { content: p })]));
  }
  const ok = await streamPieces(ctx, plan, pieces.length, (i) => pieces[i],
    () => `data: {"id":"${id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops"\n\n`,
    () => `data: ${JSON.stringify(oaiError('The server had an error while processing your request. Sorry about that!', 'server_error'))}\n\n`);
  if (!ok) return;
  ctx.res.write(ev([choice({}, finish)]));
  if (withUsage) ctx.res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
  ctx.res.end('data: [DONE]\n\n');
}

function embeddings(ctx) {
  const b = ctx.rec.body;
  if (!b || typeof b.model !== 'string')
    return ctx.json(400, oaiError('you must provide a model parameter', 'invalid_request_error'));
  if (b.input === undefined)
    return ctx.json(400, oaiError("Missing required parameter: 'input'.", 'invalid_request_error', 'input', 'missing_required_parameter'));
  const plan = parsePlan(b.model);
  if (plan.unknown)
    return ctx.json(404, oaiError(`The model \`${b.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', null, 'model_not_found'));
  if (ctx.faultApplies(plan)) { const [h, body] = faultAnswer(plan.status, plan); return ctx.json(plan.status, body, h); }
  const inputs = Array.isArray(b.input) ? b.input : [b.input];
  if (!inputs.length || inputs.some((x) => typeof x !== 'string' || !x.length))
    return ctx.json(400, oaiError("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'invalid_request_error'));
  const dims = b.dimensions ?? 8;
  const data = inputs.map((t, i) => {
    const v = embed(t, dims);
    const emb = b.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index: i, embedding: emb };
  });
  const n = inputs.reduce((a, t) => a + words(t).length, 0);
  ctx.json(200, { object: 'list', data, model: b.model, usage: { prompt_tokens: n, total_tokens: n } });
}

function listModels(ctx, models) {
  ctx.json(200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'mock' })) });
}

export async function startOpenAI(opts = {}) {
  const models = opts.models ?? ['gpt-4o-mini', 'text-embedding-3-small'];
  const mock = await startServer('openai', async (ctx) => {
    const { method } = ctx.req;
    const p = ctx.rec.path;
    if (!authCheck(ctx)) return;
    if (method === 'POST' && p === '/v1/chat/completions') return chat(ctx, false);
    if (method === 'POST' && p === '/v1/completions') return chat(ctx, true);
    if (method === 'POST' && p === '/v1/embeddings') return embeddings(ctx);
    if (method === 'GET' && p === '/v1/models') return listModels(ctx, models);
    const m = /^\/v1\/models\/(.+)$/.exec(p);
    if (method === 'GET' && m) {
      const id = decodeURIComponent(m[1]);
      if (!models.includes(id))
        return ctx.json(404, oaiError(`The model '${id}' does not exist`, 'invalid_request_error', 'model', 'model_not_found'));
      return ctx.json(200, { id, object: 'model', created: 1700000000, owned_by: 'mock' });
    }
    ctx.json(404, oaiError(`Invalid URL (${method} ${p})`, 'invalid_request_error'));
  }, opts);
  return { ...mock, baseUrl: `${mock.url}/v1` };
}
