// Shared machinery of the provider mocks: an HTTP server that records every request, the
// fault plan a request asks for through its model name, and the deterministic "model" all the
// mocks answer with.
//
// A mock is one node:http server speaking one provider's wire. Tests want to assert on what the
// node sent upstream, so every request is recorded (method, path, query, headers, parsed body)
// before it is checked. Faults are chosen per request by the model name, so a test drives them
// through the node without a side channel: the name is split on "+" and each token may name a
// behaviour ("fault-429x1+ra-1" fails the first request for that model with 429 and
// Retry-After: 1, then answers normally). Unknown tokens are ignored, so "gpt-4o-mini" simply
// answers. The answer is an echo of the last user message, streamed one word per chunk, with
// token counts equal to word counts, so a test can compute the expected content and usage.
import http from 'node:http';
import { once } from 'node:events';

// ---- the fault plan -------------------------------------------------------------------------

// Tokens understood in a model name (joined with "+"):
//   fault-NNN[xK]  answer HTTP NNN in the wire's error shape (the first K requests for this
//                  exact model name only; always without xK)
//   ra-S           with a 429/503/529 fault: Retry-After: S (seconds)
//   reset[-K]      stream: destroy the socket after K content chunks (default 2);
//                  non-stream: destroy it without answering
//   malformed[-K]  stream: after K content chunks send a chunk that is not valid JSON
//   errevent[-K]   stream: after K content chunks send the wire's in-stream error
//   cut[-K]        stream: end the body cleanly after K content chunks (default 2), without
//                  the wire's end marker ([DONE], message_stop, finishReason, done:true)
//   stall[-K]      send the headers (and K chunks when streaming), then nothing, forever
//   hang           accept the request and never answer, not even the headers
//   slow-MS        MS milliseconds between streamed chunks (and before a non-stream answer)
//   tools[-N]      call tools instead of answering in text: N calls (default 1), cycling
//                  through the tools the request offers
//   length         stop after 3 words with the wire's "length" finish reason
//   cached-N       report N cached prompt tokens where the wire has such a count
//   unknown*       (as the first token) the model does not exist: the wire's 404
export function parsePlan(model) {
  const plan = { model: String(model ?? ''), status: 0, times: Infinity, retryAfter: null,
    reset: -1, malformed: -1, errevent: -1, stall: -1, cut: -1, hang: false, slowMs: 0, tools: 0, length: false,
    cached: 0, unknown: false };
  const tokens = plan.model.split('+');
  if (/^unknown/.test(tokens[0])) plan.unknown = true;
  for (const t of tokens) {
    let m;
    if ((m = /^fault-(\d{3})(?:x(\d+))?$/.exec(t))) {
      plan.status = Number(m[1]);
      if (m[2] !== undefined) plan.times = Number(m[2]);
    } else if ((m = /^ra-(\d+)$/.exec(t))) plan.retryAfter = Number(m[1]);
    else if ((m = /^reset(?:-(\d+))?$/.exec(t))) plan.reset = m[1] === undefined ? 2 : Number(m[1]);
    else if ((m = /^malformed(?:-(\d+))?$/.exec(t))) plan.malformed = m[1] === undefined ? 1 : Number(m[1]);
    else if ((m = /^errevent(?:-(\d+))?$/.exec(t))) plan.errevent = m[1] === undefined ? 1 : Number(m[1]);
    else if ((m = /^stall(?:-(\d+))?$/.exec(t))) plan.stall = m[1] === undefined ? 0 : Number(m[1]);
    else if ((m = /^cut(?:-(\d+))?$/.exec(t))) plan.cut = m[1] === undefined ? 2 : Number(m[1]);
    else if ((m = /^slow-(\d+)$/.exec(t))) plan.slowMs = Number(m[1]);
    else if ((m = /^cached-(\d+)$/.exec(t))) plan.cached = Number(m[1]);
    else if ((m = /^tools(?:-(\d+))?$/.exec(t))) plan.tools = m[1] === undefined ? 1 : Number(m[1]);
    else if (t === 'length') plan.length = true;
    else if (t === 'hang') plan.hang = true;
  }
  return plan;
}

// True when the name asks for any behaviour beyond a plain answer.
export function hasBehaviour(plan) {
  return plan.status > 0 || plan.retryAfter !== null || plan.reset >= 0 || plan.malformed >= 0 ||
    plan.errevent >= 0 || plan.stall >= 0 || plan.cut >= 0 || plan.hang || plan.slowMs > 0 || plan.tools || plan.length || plan.cached > 0;
}

// ---- the deterministic model ----------------------------------------------------------------

export const words = (s) => String(s).split(/\s+/).filter(Boolean);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The answer to a conversation whose last user text is `text`, as chunks of one word each
// (every chunk after the first starts with its space, so joining them gives the answer).
export function answerPieces(text, plan, limit = Infinity) {
  let w = ['echo:', ...words(text)];
  let truncated = false;
  const max = Math.min(plan.length ? 3 : Infinity, limit);
  if (w.length > max) { w = w.slice(0, max); truncated = true; }
  return { pieces: w.map((x, i) => (i ? ' ' + x : x)), text: w.join(' '), truncated };
}

// Arguments for a call of a tool with this JSON schema: every string property gets the user's
// text, numbers 42, booleans true, the rest null. Stable key order, so tests can compare text.
export function toolArgs(schema, text) {
  const props = (schema && typeof schema === 'object' && schema.properties) || {};
  const out = {};
  for (const [k, v] of Object.entries(props)) {
    const type = Array.isArray(v?.type) ? v.type[0] : v?.type;
    const t = typeof type === 'string' ? type.toLowerCase() : '';
    out[k] = t === 'string' ? text : t === 'number' || t === 'integer' ? 42 : t === 'boolean' ? true : null;
  }
  return out;
}

// The calls a request gets under plan.tools: [{name, args}], cycling through `decls`
// ([{name, schema}], the tools the request offered); [] when none are planned or offered.
export function plannedCalls(plan, decls, text) {
  if (!plan.tools || !decls.length) return [];
  return Array.from({ length: plan.tools }, (_, i) => {
    const d = decls[i % decls.length];
    return { name: d.name, args: toolArgs(d.schema, text) };
  });
}

// Split a string into n roughly equal pieces (for streaming tool arguments in fragments).
export function splitN(s, n) {
  const out = [];
  const step = Math.max(1, Math.ceil(s.length / n));
  for (let i = 0; i < s.length; i += step) out.push(s.slice(i, i + step));
  return out.length ? out : [''];
}

// A deterministic embedding: `dims` floats in [-1, 1) from an FNV-1a hash of the text, then
// normalised, so equal texts give equal vectors and different texts (almost surely) differ.
export function embed(text, dims = 8) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(String(text))) { h ^= c; h = Math.imul(h, 0x01000193) >>> 0; }
  const v = [];
  for (let i = 0; i < dims; i++) {
    h ^= h << 13; h >>>= 0; h ^= h >>> 17; h ^= h << 5; h >>>= 0;
    v.push((h / 2 ** 32) * 2 - 1);
  }
  const n = Math.hypot(...v) || 1;
  return v.map((x) => Math.round((x / n) * 1e6) / 1e6);
}

// ---- the server -----------------------------------------------------------------------------

// A request as the handlers see it: the recorded entry plus the Node objects.
//   rec = {method, path, query, headers, body (parsed JSON or undefined), raw, bodyError, time,
//          closedAt and clientGone once the exchange is over}
// handler(ctx) where ctx = {req, res, rec, url, mock, json(status, obj, headers),
//                            attempt(plan) -> how many earlier requests asked for this model}
export async function startServer(wire, handler, opts = {}) {
  const requests = [];
  const seen = new Map();     // model name -> requests so far (for fault-NNNxK)
  const sockets = new Set();
  const mock = { wire, requests, opts };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://mock');
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body;
    let bodyError = null;
    if (raw.length) {
      try { body = JSON.parse(raw); } catch (e) { bodyError = e.message; }
    }
    const rec = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers }, body, raw, bodyError, time: Date.now() };
    if (url.pathname === '/__mock/requests') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(requests));
      return;
    }
    if (url.pathname === '/__mock/reset') {
      requests.length = 0; seen.clear();
      res.writeHead(204); res.end();
      return;
    }
    if (opts.record !== false) requests.push(rec);
    // When the exchange ended, and whether the client left before the answer was complete.
    res.on('close', () => { rec.closedAt = Date.now(); rec.clientGone = !res.writableFinished; });
    const ctx = {
      req, res, rec, url, mock,
      json(status, obj, headers = {}) {
        if (res.destroyed) return;
        const text = JSON.stringify(obj);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
        res.end(text);
      },
      // Count this request against its model name; true while a fault-NNNxK still applies.
      faultApplies(plan) {
        const n = seen.get(plan.model) ?? 0;
        seen.set(plan.model, n + 1);
        return plan.status > 0 && n < plan.times;
      },
    };
    try {
      await handler(ctx);
    } catch (e) {
      if (!res.headersSent) ctx.json(500, { error: `mock ${wire} crashed: ${e.stack}` });
      else res.destroy();
    }
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const url = `http://127.0.0.1:${port}`;
  return {
    wire, port, url, requests,
    reset() { requests.length = 0; seen.clear(); },
    // Requests to paths containing `part` (e.g. "/chat/completions"), oldest first.
    requestsTo(part) { return requests.filter((r) => r.path.includes(part)); },
    last(part = '') { const r = requests.filter((x) => x.path.includes(part)); return r[r.length - 1]; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// Stream helper: write pieces with the plan's pacing and faults. `frame(i)` returns the bytes
// of content piece i; `bad()` the malformed chunk; `errFrame()` the in-stream error. Returns
// false when the stream was cut (reset, stall, malformed or error event): the caller then
// writes nothing more.
export async function streamPieces(ctx, plan, n, frame, bad, errFrame) {
  const { res } = ctx;
  // Each chunk is flushed to the socket before the next step, as a real server's would be:
  // Node corks a response within one tick, so a reset right after a write would lose it.
  const send = (data) => new Promise((r) => (res.destroyed ? r() : res.write(data, () => r())));
  const reset = () => { res.socket?.destroy(); return false; };
  const finish = async (data) => { await send(data); res.end(); return false; };
  for (let i = 0; i < n; i++) {
    if (i === plan.reset) return reset();
    if (i === plan.stall) return stallForever(ctx);
    if (i === plan.cut) { res.end(); return false; }
    if (i === plan.malformed) return finish(bad());
    if (i === plan.errevent) return finish(errFrame());
    if (i > 0 && plan.slowMs) await sleep(plan.slowMs);
    if (res.destroyed) return false;
    await send(frame(i));
  }
  // Faults placed at or past the end still fire, after the last content piece.
  if (plan.reset >= n) return reset();
  if (plan.stall >= n) return stallForever(ctx);
  if (plan.cut >= n) { res.end(); return false; }
  if (plan.malformed >= n) return finish(bad());
  if (plan.errevent >= n) return finish(errFrame());
  if (plan.slowMs) await sleep(plan.slowMs);
  return !res.destroyed;
}

// Keep the response open and silent until the client goes away (or the mock closes), after
// sending the headers written so far (or none at all: plan.hang).
export async function stallForever(ctx, sendHeaders = true) {
  if (sendHeaders) ctx.res.flushHeaders();
  await new Promise((r) => ctx.res.on('close', r));
  return false;
}

export const lastUserText = (texts) => (texts.length ? texts[texts.length - 1] : '');
