// A local Gemini API (v1beta): models/{m}:generateContent, :streamGenerateContent?alt=sse,
// :embedContent, :batchEmbedContents and GET models, with the shapes Google documents.
//
// Checked like generativelanguage.googleapis.com: the key in x-goog-api-key (or ?key=), 403
// PERMISSION_DENIED without one and 400 API_KEY_INVALID for a wrong one; unknown fields are
// rejected ('Invalid JSON payload received. Unknown name "x"', which is what an OpenAI field
// leaking through would get; proto JSON accepts both camelCase and snake_case names); contents
// required, roles only "user" and "model", a functionResponse's `response` must be an object
// and a functionCall's `args` too. Errors are {"error":{code,message,status,details}}. A
// streamed answer is a sequence of "data: <GenerateContentResponse>" events separated by CRLF
// CRLF, each with the candidate's new text parts, usageMetadata on every event, finishReason
// on the last; there is no terminating sentinel: the end of the body ends the stream. Function
// calls arrive whole (name and args) in one part.
import { parsePlan, answerPieces, plannedCalls, embed, words, sleep, streamPieces, stallForever,
  startServer } from './common.mjs';

const STATUS = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };
const gErr = (code, message, details) => ({ error: { code, message, status: STATUS[code] ?? 'UNKNOWN', ...(details ? { details } : {}) } });

// Field names a request may carry (camelCase and the proto's snake_case).
const both = (...names) => new Set(names.flatMap((n) => [n, n.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())]));
const REQ = both('contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig', 'cachedContent');
const GEN = both('stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities',
  'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty',
  'responseLogprobs', 'logprobs', 'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig', 'mediaResolution');
const PART = both('text', 'inlineData', 'functionCall', 'functionResponse', 'fileData', 'executableCode',
  'codeExecutionResult', 'thought', 'thoughtSignature', 'videoMetadata');
const pick = (o, camel) => o?.[camel] ?? o?.[camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())];

function unknownName(obj, allowed, where) {
  for (const k of Object.keys(obj ?? {}))
    if (!allowed.has(k)) return gErr(400, `Invalid JSON payload received. Unknown name "${k}"${where ? ` at '${where}'` : ''}: Cannot find field.`,
      [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: where || k, description: `Invalid JSON payload received. Unknown name "${k}"${where ? ` at '${where}'` : ''}: Cannot find field.` }] }]);
  return null;
}

function checkParts(parts, where) {
  if (!Array.isArray(parts)) return gErr(400, `Invalid value at '${where}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part), expected a list`);
  for (const [j, p] of parts.entries()) {
    const w = `${where}[${j}]`;
    const e = unknownName(p, PART, w);
    if (e) return e;
    const fr = pick(p, 'functionResponse');
    if (fr !== undefined) {
      if (typeof fr.name !== 'string') return gErr(400, `* GenerateContentRequest.${w}.function_response.name: Name cannot be empty.`);
      if (!fr.response || typeof fr.response !== 'object' || Array.isArray(fr.response))
        return gErr(400, `Invalid value at '${w}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(fr.response)}`);
    }
    const fc = pick(p, 'functionCall');
    if (fc !== undefined) {
      if (typeof fc.name !== 'string') return gErr(400, `* GenerateContentRequest.${w}.function_call.name: Name cannot be empty.`);
      if (fc.args !== undefined && (!fc.args || typeof fc.args !== 'object' || Array.isArray(fc.args)))
        return gErr(400, `Invalid value at '${w}.function_call.args' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(fc.args)}`);
    }
    if (p.text !== undefined && typeof p.text !== 'string')
      return gErr(400, `Invalid value at '${w}.text' (TYPE_STRING), ${JSON.stringify(p.text)}`);
  }
  return null;
}

function checkGenerate(b) {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return gErr(400, 'Invalid JSON payload received.');
  let e = unknownName(b, REQ, '');
  if (e) return e;
  const gc = pick(b, 'generationConfig');
  if (gc !== undefined && (e = unknownName(gc, GEN, 'generation_config'))) return e;
  const contents = b.contents;
  if (!Array.isArray(contents) || !contents.length) return gErr(400, '* GenerateContentRequest.contents: contents is not specified\n');
  for (const [i, c] of contents.entries()) {
    // "function" is the role older documentation gave functionResponse turns; still accepted.
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model' && c.role !== 'function')
      return gErr(400, 'Please use a valid role: user, model.');
    if ((e = checkParts(c.parts, `contents[${i}].parts`))) return e;
    if (!c.parts.length) return gErr(400, `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`);
  }
  const si = pick(b, 'systemInstruction');
  if (si !== undefined && (e = checkParts(si.parts, 'system_instruction.parts'))) return e;
  for (const [i, t] of (b.tools ?? []).entries()) {
    const decls = pick(t, 'functionDeclarations');
    for (const [j, d] of (decls ?? []).entries()) {
      if (typeof d.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(d.name))
        return gErr(400, `* GenerateContentRequest.tools[${i}].function_declarations[${j}].name: Invalid function name.`);
      for (const bad of ['additionalProperties', '$schema'])
        if (d.parameters && bad in d.parameters)
          return gErr(400, `Invalid JSON payload received. Unknown name "${bad}" at 'tools[${i}].function_declarations[${j}].parameters': Cannot find field.`);
    }
  }
  if (gc?.temperature !== undefined && (gc.temperature < 0 || gc.temperature > 2))
    return gErr(400, '* GenerateContentRequest.generation_config.temperature: temperature must be in the range [0.0, 2.0]\n');
  return null;
}

function faultAnswer(status, plan) {
  const headers = {};
  if (plan.retryAfter !== null && status !== 429) headers['retry-after'] = String(plan.retryAfter);
  if (status === 429)
    return [headers, gErr(429, 'You exceeded your current quota, please check your plan and billing details.', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${plan.retryAfter ?? 1}s` }])];
  if (status === 503) return [headers, gErr(503, 'The model is overloaded. Please try again later.')];
  if (status === 500) return [headers, gErr(500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting')];
  if (status === 400) return [headers, gErr(400, 'Request contains an invalid argument.')];
  return [headers, gErr(status, 'Mock fault.')];
}

function authCheck(ctx) {
  const key = ctx.mock.opts.apiKey;
  if (!key) return true;
  const got = ctx.req.headers['x-goog-api-key'] ?? ctx.rec.query.key;
  if (!got) {
    ctx.json(403, gErr(403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.'));
    return false;
  }
  if (got !== key) {
    ctx.json(400, gErr(400, 'API key not valid. Please pass a valid API key.', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } }]));
    return false;
  }
  return true;
}

let seq = 0;

async function generate(ctx, model, stream) {
  if (stream && ctx.rec.query.alt !== 'sse') {
    // Without alt=sse the stream is one JSON array written piecewise; the node must ask for SSE.
    return ctx.json(400, gErr(400, 'mock: streamGenerateContent is only served with ?alt=sse'));
  }
  if (ctx.rec.bodyError) return ctx.json(400, gErr(400, `Invalid JSON payload received. ${ctx.rec.bodyError}`));
  const b = ctx.rec.body;
  const bad = checkGenerate(b);
  if (bad) return ctx.json(bad.error.code, bad);
  const plan = parsePlan(model);
  if (plan.unknown)
    return ctx.json(404, gErr(404, `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`));
  if (ctx.faultApplies(plan)) { const [h, body] = faultAnswer(plan.status, plan); return ctx.json(plan.status, body, h); }
  if (plan.hang) return stallForever(ctx, false);
  if (!stream && plan.reset >= 0) return ctx.res.socket.destroy();
  if (!stream && plan.stall >= 0) { ctx.res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }); return stallForever(ctx); }

  const textOf = (c) => (c.parts ?? []).filter((p) => typeof p.text === 'string').map((p) => p.text).join(' ');
  const users = b.contents.filter((c) => (c.role ?? 'user') === 'user').map(textOf).filter((t) => t.length);
  const userText = users.length ? users[users.length - 1] : '';
  const si = pick(b, 'systemInstruction');
  const promptTokens = words(si ? textOf(si) : '').length + b.contents.reduce((a, c) => a + words(textOf(c)).length, 0);
  const gc = pick(b, 'generationConfig') ?? {};
  const maxOut = pick(gc, 'maxOutputTokens') ?? Infinity;
  const ans = answerPieces(userText, plan, maxOut);
  const decls = (b.tools ?? []).flatMap((t) => pick(t, 'functionDeclarations') ?? []);
  const mode = pick(pick(pick(b, 'toolConfig') ?? {}, 'functionCallingConfig') ?? {}, 'mode');
  const calls = mode === 'NONE' ? [] : plannedCalls(plan, decls.map((d) => ({ name: d.name, schema: d.parameters })), userText);
  const tool = calls.length > 0;
  const callParts = calls.map((c) => ({ functionCall: { name: c.name, args: c.args } }));
  const out = tool ? calls.reduce((a, c) => a + words(JSON.stringify(c.args)).length, 0) : ans.pieces.length;
  const finish = ans.truncated && !tool ? 'MAX_TOKENS' : 'STOP';
  const responseId = `mockresp${++seq}`;
  const usage = (n) => ({ promptTokenCount: promptTokens, ...(n ? { candidatesTokenCount: n } : {}),
    totalTokenCount: promptTokens + n, ...(plan.cached ? { cachedContentTokenCount: plan.cached } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }] });
  const resp = (parts, fin, n) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(fin ? { finishReason: fin } : {}), index: 0 }],
    usageMetadata: usage(n), modelVersion: model, responseId });

  if (!stream) {
    if (plan.slowMs) await sleep(plan.slowMs);
    const parts = tool ? callParts : [{ text: ans.text }];
    return ctx.json(200, resp(parts, finish, out), { 'content-type': 'application/json; charset=UTF-8' });
  }
  ctx.res.writeHead(200, { 'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff' });
  const ev = (obj) => `data: ${JSON.stringify(obj)}\r\n\r\n`;
  const frames = tool ? [ev(resp(callParts, finish, out))]
    : ans.pieces.map((p, i) => ev(resp([{ text: p }], i === ans.pieces.length - 1 ? finish : null,
      i === ans.pieces.length - 1 ? out : 0)));
  await streamPieces(ctx, plan, frames.length, (i) => frames[i],
    () => 'data: {"candidates": [{"content": {"parts": [{"text": "oops"}\r\n\r\n',
    () => ev(gErr(500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting')));
  if (!ctx.res.destroyed && !ctx.res.writableEnded) ctx.res.end();
}

function embedOne(ctx, model, req, where) {
  const parts = req?.content?.parts;
  if (!Array.isArray(parts) || !parts.length) return [null, gErr(400, `* ${where}.content: must specify parts`)];
  const text = parts.map((p) => p.text ?? '').join(' ');
  const dims = pick(req, 'outputDimensionality') ?? 8;
  return [{ values: embed(text, dims) }, null];
}

function embedding(ctx, model, batch) {
  if (ctx.rec.bodyError) return ctx.json(400, gErr(400, `Invalid JSON payload received. ${ctx.rec.bodyError}`));
  const b = ctx.rec.body ?? {};
  const plan = parsePlan(model);
  if (plan.unknown) return ctx.json(404, gErr(404, `models/${model} is not found for API version v1beta, or is not supported for embedContent.`));
  if (ctx.faultApplies(plan)) { const [h, body] = faultAnswer(plan.status, plan); return ctx.json(plan.status, body, h); }
  if (!batch) {
    const [e, err] = embedOne(ctx, model, b, 'EmbedContentRequest');
    return err ? ctx.json(400, err) : ctx.json(200, { embedding: e });
  }
  if (!Array.isArray(b.requests) || !b.requests.length) return ctx.json(400, gErr(400, '* BatchEmbedContentsRequest.requests: must not be empty'));
  const out = [];
  for (const [i, r] of b.requests.entries()) {
    if (r.model !== `models/${model}`)
      return ctx.json(400, gErr(400, `* BatchEmbedContentsRequest.requests[${i}].model: the model in a batch request must match the model in the URL (models/${model}), got ${JSON.stringify(r.model)}`));
    const [e, err] = embedOne(ctx, model, r, `BatchEmbedContentsRequest.requests[${i}]`);
    if (err) return ctx.json(400, err);
    out.push(e);
  }
  ctx.json(200, { embeddings: out });
}

export async function startGemini(opts = {}) {
  const models = opts.models ?? ['gemini-2.0-flash', 'text-embedding-004'];
  const mock = await startServer('gemini', async (ctx) => {
    const { method } = ctx.req;
    const p = ctx.rec.path;
    if (!authCheck(ctx)) return;
    const m = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)$/.exec(p);
    if (method === 'POST' && m) {
      const model = decodeURIComponent(m[1]);
      if (m[2] === 'generateContent') return generate(ctx, model, false);
      if (m[2] === 'streamGenerateContent') return generate(ctx, model, true);
      return embedding(ctx, model, m[2] === 'batchEmbedContents');
    }
    if (method === 'GET' && p === '/v1beta/models')
      return ctx.json(200, { models: models.map((id) => ({ name: `models/${id}`, version: '001', displayName: id,
        inputTokenLimit: 1048576, outputTokenLimit: 8192,
        supportedGenerationMethods: id.includes('embedding') ? ['embedContent', 'batchEmbedContents'] : ['generateContent', 'countTokens'] })) });
    ctx.json(404, gErr(404, `mock: no route ${method} ${p}`));
  }, opts);
  return { ...mock, baseUrl: `${mock.url}/v1beta` };
}
