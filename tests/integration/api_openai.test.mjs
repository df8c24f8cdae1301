// The node's OpenAI-compatible /v1 API with the official `openai` SDK as the client, unchanged,
// against local models: the built-in tiny chat model "hanzo-tiny-chat" (random weights, so the
// text is gibberish, but deterministic with temperature 0 or a seed) and a tiny BERT embedding
// model written for the test by tests/tools/gguf_gen into the node's models folder.
//
// Covered: chat and legacy completions, plain and streamed (the stream must add up to exactly
// the plain answer; include_usage; [DONE]), usage and finish reasons, seeds, stop strings,
// logprobs, JSON output (response_format json_object and json_schema), embeddings (batch,
// dimensions, normalisation, base64 decoding to the same floats), the model list, the error
// shapes and statuses the SDK maps to its exception classes, per-key rate limits, usage
// accounting, and a client that aborts a stream half-way while the node keeps serving.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startNode } from './mock/node.mjs';

const CHAT = 'hanzo-tiny-chat';
const EMBED = 'tiny-embed';
const HELLO = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say hello.' }];

function gguf(kind, out) {
  const tools = process.env.HZ_TOOLS_DIR;
  assert.ok(tools, 'HZ_TOOLS_DIR must point at the built test tools (ctest sets it)');
  execFileSync(path.join(tools, 'gguf_gen'), [kind, out]);
}

async function drain(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

const text = (chunks) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? c.choices?.[0]?.text ?? '').join('');

// 'complete' for a JSON object, 'prefix' for text a JSON object can start with; throws otherwise.
// A recursive-descent parser that treats running out of input as success-so-far.
function jsonObjectPrefix(s) {
  const END = Symbol('end');
  let i = 0;
  const fail = (what) => { throw new Error(`${what} at offset ${i} of ${JSON.stringify(s)}`); };
  const peek = () => { if (i >= s.length) throw END; return s[i]; };
  const ws = () => { while (i < s.length && ' \t\n\r'.includes(s[i])) i++; };
  const expect = (c) => { if (peek() !== c) fail(`expected ${c}`); i++; };
  const digits = () => { if (!/[0-9]/.test(peek())) fail('expected a digit'); while (i < s.length && /[0-9]/.test(s[i])) i++; };
  const string = () => {
    expect('"');
    for (;;) {
      const c = peek();
      if (c === '"') { i++; return; }
      if (c === '\\') {
        i++;
        const e = peek();
        if (e === 'u') { i++; for (let k = 0; k < 4; k++) { if (!/[0-9a-fA-F]/.test(peek())) fail('bad \\u escape'); i++; } }
        else if ('"\\/bfnrt'.includes(e)) i++;
        else fail('bad escape');
      } else if (c < ' ') fail('control character in a string');
      else i++;
    }
  };
  const number = () => {
    if (peek() === '-') i++;
    if (peek() === '0') i++; else digits();
    if (i < s.length && s[i] === '.') { i++; digits(); }
    if (i < s.length && 'eE'.includes(s[i])) { i++; if ('+-'.includes(peek())) i++; digits(); }
  };
  const container = (open, close, item) => {
    expect(open);
    ws();
    if (peek() === close) { i++; return; }
    for (;;) {
      item();
      ws();
      const c = peek();
      i++;
      if (c === close) return;
      if (c !== ',') { i--; fail(`expected , or ${close}`); }
    }
  };
  const value = () => {
    ws();
    const c = peek();
    if (c === '{') container('{', '}', () => { ws(); string(); ws(); expect(':'); value(); });
    else if (c === '[') container('[', ']', value);
    else if (c === '"') string();
    else if (c === '-' || /[0-9]/.test(c)) number();
    else {
      const w = ['true', 'false', 'null'].find((x) => x[0] === c);
      if (!w) fail('unexpected character');
      for (const ch of w) expect(ch);
    }
  };
  try {
    ws();
    if (peek() !== '{') fail('not an object');
    value();
    ws();
    if (i < s.length) fail('text after the object');
    return 'complete';
  } catch (e) {
    if (e === END) return 'prefix';
    throw e;
  }
}

describe('OpenAI-compatible /v1 with the openai SDK', () => {
  let node, client, models;
  before(async () => {
    models = fs.mkdtempSync(path.join(os.tmpdir(), 'hz-api-openai-models-'));
    gguf('embed', path.join(models, `${EMBED}.gguf`));
    node = await startNode({ name: 'api-openai', args: ['--models-dir', models] });
    client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: node.key, maxRetries: 0 });
  });
  after(async () => {
    await node?.stop();
    fs.rmSync(models, { recursive: true, force: true });
  });

  test('chat: answer, usage and finish_reason "length" at max_tokens', async () => {
    const r = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 5, temperature: 0 });
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, CHAT);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(r.choices[0].message.content.length > 0);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 5);
    assert.ok(r.usage.prompt_tokens > 5, `the prompt with its template has more than 5 tokens: ${r.usage.prompt_tokens}`);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  });

  test('chat: a streamed answer adds up to the plain one (temperature 0), then usage and [DONE]', async () => {
    const params = { model: CHAT, messages: HELLO, max_tokens: 12, temperature: 0, seed: 7 };
    const plain = await client.chat.completions.create(params);
    const chunks = await drain(await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }));
    assert.ok(chunks.length >= 3, `role, content and finish chunks at least: ${chunks.length}`);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id on every chunk');
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1, 'one created on every chunk');
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.model, CHAT);
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant', 'the first delta carries the role');
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, [], 'include_usage: the last chunk has no choices');
    assert.equal(usage.usage.prompt_tokens, plain.usage.prompt_tokens);
    assert.equal(usage.usage.completion_tokens, plain.usage.completion_tokens);
    assert.equal(usage.usage.total_tokens, plain.usage.total_tokens);
    const content = chunks.slice(0, -1);
    assert.equal(content.at(-1).choices[0].finish_reason, 'length');
    assert.ok(content.slice(0, -1).every((c) => c.choices[0].finish_reason === null), 'only the last choice chunk finishes');
    assert.equal(text(chunks), plain.choices[0].message.content);

    // Without include_usage there is no usage chunk; the SDK ends the loop on [DONE].
    const bare = await drain(await client.chat.completions.create({ ...params, stream: true }));
    assert.ok(bare.every((c) => c.choices.length === 1 && !c.usage));
    assert.equal(text(bare), plain.choices[0].message.content);
  });

  test('chat: the raw stream is data: lines ending in [DONE]', async () => {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${node.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: CHAT, messages: HELLO, max_tokens: 3, stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = (await res.text()).split(/\n\n/).filter((e) => e.trim());
    assert.ok(events.every((e) => e.startsWith('data: ')), 'every event is a data: line');
    assert.equal(events.at(-1), 'data: [DONE]');
    for (const e of events.slice(0, -1)) JSON.parse(e.slice(6));
  });

  test('chat: the same seed gives the same sampled answer', async () => {
    const params = { model: CHAT, messages: HELLO, max_tokens: 10, temperature: 1.0, seed: 1234 };
    const a = await client.chat.completions.create(params);
    const b = await client.chat.completions.create(params);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  });

  test('chat: content parts, developer role, stop strings', async () => {
    const parts = await client.chat.completions.create({
      model: CHAT, max_tokens: 6, temperature: 0,
      messages: [{ role: 'developer', content: 'You are terse.' }, { role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }],
    });
    const plain = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 6, temperature: 0 });
    assert.equal(parts.choices[0].message.content, plain.choices[0].message.content,
      'a text part and the developer role render like a string and the system role');

    const long = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 20, temperature: 0 });
    const full = long.choices[0].message.content;
    const stop = full.slice(3, 6);
    assert.ok(stop.length === 3 && full.indexOf(stop) >= 1, `a stop string from the answer: ${JSON.stringify(full)}`);
    const cut = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 20, temperature: 0, stop: [stop] });
    assert.equal(cut.choices[0].finish_reason, 'stop');
    assert.equal(cut.choices[0].message.content, full.slice(0, full.indexOf(stop)), 'cut before the stop string');
  });

  test('chat: logprobs with top_logprobs', async () => {
    const r = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2 });
    const lp = r.choices[0].logprobs.content;
    assert.equal(lp.length, r.usage.completion_tokens);
    for (const t of lp) {
      assert.equal(typeof t.token, 'string');
      assert.ok(t.logprob <= 0);
      assert.ok(Array.isArray(t.bytes) && t.bytes.length > 0);
      assert.equal(t.top_logprobs.length, 2);
      // greedy: the chosen token is the likeliest one
      assert.ok(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4);
    }
    assert.equal(Buffer.from(lp.flatMap((t) => t.bytes)).toString('utf8'), r.choices[0].message.content);
  });

  test('chat: response_format json_schema gives JSON of that shape', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string', enum: ['yes', 'no'] }, n: { type: 'integer' } }, required: ['answer', 'n'] };
    const r = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 200, temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } } });
    assert.equal(r.choices[0].finish_reason, 'stop');
    const v = JSON.parse(r.choices[0].message.content);
    assert.ok(['yes', 'no'].includes(v.answer));
    assert.equal(typeof v.n, 'number');
  });

  test('chat: response_format json_object keeps every answer inside a JSON object', async () => {
    // Random weights wander inside strings, so an answer may run out of tokens before the object
    // closes: each answer must be a JSON object or a prefix of one, and one that ended by itself
    // must parse. Sampled (several seeds), so the grammar is exercised away from the greedy path.
    for (let seed = 1; seed <= 4; seed++) {
      const r = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 24, temperature: 1.5,
        top_k: 0, top_p: 1, min_p: 0, repeat_penalty: 3, seed, response_format: { type: 'json_object' } });
      const out = r.choices[0].message.content;
      const state = jsonObjectPrefix(out);
      if (r.choices[0].finish_reason === 'stop') {
        assert.equal(state, 'complete', `seed ${seed}: ${JSON.stringify(out)}`);
        const v = JSON.parse(out);
        assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v));
      } else {
        assert.equal(r.choices[0].finish_reason, 'length');
        assert.ok(state === 'prefix' || state === 'complete', `seed ${seed}: ${JSON.stringify(out)}`);
      }
    }
    // and the checker itself tells the three apart
    assert.equal(jsonObjectPrefix('{"a": [1, tr'), 'prefix');
    assert.equal(jsonObjectPrefix('{"a": 1e5}'), 'complete');
    assert.throws(() => jsonObjectPrefix('{"a" 1'));
    assert.throws(() => jsonObjectPrefix('hello'));
  });

  test('completions: plain, streamed, echo', async () => {
    const params = { model: CHAT, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 };
    const r = await client.completions.create(params);
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 8);
    assert.ok(r.usage.prompt_tokens >= 3);
    const chunks = await drain(await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }));
    assert.ok(chunks.slice(0, -1).every((c) => c.object === 'text_completion'));
    assert.equal(chunks.at(-1).usage.completion_tokens, 8);
    assert.equal(text(chunks), r.choices[0].text);
    const echo = await client.completions.create({ ...params, echo: true });
    assert.equal(echo.choices[0].text, params.prompt + r.choices[0].text);
    const dflt = await client.completions.create({ model: CHAT, prompt: 'Once upon a time', temperature: 0 });
    assert.equal(dflt.usage.completion_tokens, 16, 'max_tokens defaults to 16 as on OpenAI');
  });

  test('embeddings: batch, normalised, float and base64 agree, dimensions', async () => {
    const input = ['the quick brown fox', 'jumps over the lazy dog'];
    const f = await client.embeddings.create({ model: EMBED, input, encoding_format: 'float' });
    assert.equal(f.object, 'list');
    assert.equal(f.model, EMBED);
    assert.equal(f.data.length, 2);
    const dim = f.data[0].embedding.length;
    assert.ok(dim > 0);
    f.data.forEach((d, i) => {
      assert.equal(d.object, 'embedding');
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, dim);
      const norm = Math.hypot(...d.embedding);
      assert.ok(Math.abs(norm - 1) < 1e-4, `L2 norm ${norm}`);
    });
    assert.notDeepEqual(f.data[0].embedding, f.data[1].embedding);
    assert.ok(f.usage.prompt_tokens > 0);
    assert.equal(f.usage.total_tokens, f.usage.prompt_tokens);

    // The SDK asks for base64 by default and decodes it; the raw string decodes to the same floats.
    const dflt = await client.embeddings.create({ model: EMBED, input });
    const raw = await client.embeddings.create({ model: EMBED, input, encoding_format: 'base64' });
    for (let i = 0; i < 2; i++) {
      const b = Buffer.from(raw.data[i].embedding, 'base64');
      const v = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      assert.equal(v.length, dim);
      assert.deepEqual(Array.from(v), f.data[i].embedding.map(Math.fround));
      assert.deepEqual(dflt.data[i].embedding, Array.from(v));
    }

    const one = await client.embeddings.create({ model: EMBED, input: input[0], dimensions: dim, encoding_format: 'float' });
    // batched and single evaluation may round differently, never by more than float noise
    const cos = one.data[0].embedding.reduce((a, x, k) => a + x * f.data[0].embedding[k], 0);
    assert.ok(cos > 0.9999, `a single input embeds as in the batch (cosine ${cos})`);
    await assert.rejects(client.embeddings.create({ model: EMBED, input: 'x', dimensions: dim - 1 }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'dimensions' && /dimensions/.test(e.message));
    await assert.rejects(client.embeddings.create({ model: EMBED, input: [] }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
  });

  test('models: list and retrieve', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
      assert.equal(m.object, 'model');
    }
    assert.ok(ids.includes(CHAT) && ids.includes(EMBED), ids.join(', '));
    const m = await client.models.retrieve(CHAT);
    assert.equal(m.id, CHAT);
    assert.equal(m.owned_by, 'local');
    assert.equal(typeof m.created, 'number');
    await assert.rejects(client.models.retrieve('no-such-model'),
      (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  });

  test('errors: unknown model 404, bad parameters 400 naming them, no key 401', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: HELLO }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: HELLO, stream: true }),
      (e) => e instanceof OpenAI.NotFoundError, 'a stream that fails before output is an ordinary error');
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: HELLO, temperature: 5 }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature' && /temperature/.test(e.message));
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 0 }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: [] }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] }),
      (e) => e instanceof OpenAI.BadRequestError && /messages\[0\]\.content\[0\]/.test(e.param ?? e.message));
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: HELLO, logprobs: false, top_logprobs: 3 }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'top_logprobs');
    await assert.rejects(client.chat.completions.create({ model: EMBED, messages: HELLO, max_tokens: 2 }),
      (e) => e instanceof OpenAI.BadRequestError && /embedding model/.test(e.message));
    const big = 'hello '.repeat(6000);
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: big }] }),
      (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded');
    const nokey = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
    await assert.rejects(nokey.chat.completions.create({ model: CHAT, messages: HELLO }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  });

  test('tools: refused by local models unless tool_choice is "none"', async () => {
    const tools = [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }];
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: HELLO, tools }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'tools' && /tool/.test(e.message));
    const r = await client.chat.completions.create({ model: CHAT, messages: HELLO, tools, tool_choice: 'none', max_tokens: 3 });
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.choices[0].message.tool_calls, undefined);
  });

  test('cancellation: a client that aborts a stream stops the model; the node keeps serving', async () => {
    const totals = async () => {
      const u = await node.api('GET', '/v2/usage');
      assert.equal(u.status, 200, JSON.stringify(u.body));
      return u.body.total;
    };
    const before = await totals();
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: CHAT, messages: HELLO, max_tokens: 3000, temperature: 1, seed: 5, stream: true }, { signal: ac.signal });
    let n = 0;
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content && ++n === 3) {
        ac.abort();     // closes the connection
        break;
      }
    }
    assert.equal(n, 3);
    // The call is accounted when it ends: soon, and well short of its 3000 tokens.
    let after;
    for (let i = 0; i < 100; i++) {
      after = await totals();
      if (after.requests > before.requests) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(after.requests, before.requests + 1, 'the aborted call ended and was accounted');
    const generated = after.completion_tokens - before.completion_tokens;
    assert.ok(generated >= 3 && generated < 1000, `the model stopped after ${generated} tokens`);
    assert.equal(after.errors, before.errors + 1, 'a cancelled call counts as an error');

    const r = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 4, temperature: 0 });
    assert.equal(r.usage.completion_tokens, 4);
    const usage = await node.api('GET', '/v2/usage?group_by=model');
    const chat = usage.body.groups.find((g) => g.key === CHAT);
    assert.ok(chat && chat.requests >= 2 && chat.prompt_tokens > 0, JSON.stringify(usage.body));
  });
});

describe('per-key rate limits on /v1', () => {
  let node;
  before(async () => { node = await startNode({ name: 'api-openai-rpm', args: ['--rpm', '2'] }); });
  after(async () => { await node?.stop(); });

  test('the third request in a minute is 429 with Retry-After', async () => {
    const client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: node.key, maxRetries: 0 });
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 1 });
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 1 }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      const ra = Number(e.headers.get('retry-after'));
      assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);
      return true;
    });
    // model listing is not a model request
    const list = await client.models.list();
    assert.ok(list.data.some((m) => m.id === CHAT));
  });
});

describe('a local model that is busy', () => {
  let node;
  before(async () => { node = await startNode({ name: 'api-openai-busy', args: ['--llm-parallel', '1', '--llm-queue', '0'] }); });
  after(async () => { await node?.stop(); });

  test('answers 429 with Retry-After while its only sequence is taken', async () => {
    const client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: node.key, maxRetries: 0 });
    const ac = new AbortController();
    const long = await client.chat.completions.create(
      { model: CHAT, messages: HELLO, max_tokens: 3000, temperature: 1, seed: 9, stream: true }, { signal: ac.signal });
    const it = long[Symbol.asyncIterator]();
    await it.next();    // generating now
    await assert.rejects(client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 2 }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.equal(e.code, 'model_busy');
      assert.equal(e.headers.get('retry-after'), '1');
      return true;
    });
    ac.abort();
    await it.return?.();
    // once the stream is gone the sequence is free again
    let r;
    for (let i = 0; i < 100 && !r; i++) {
      try {
        r = await client.chat.completions.create({ model: CHAT, messages: HELLO, max_tokens: 2 });
      } catch (e) {
        if (!(e instanceof OpenAI.RateLimitError)) throw e;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    assert.equal(r?.usage.completion_tokens, 2);
  });
});
