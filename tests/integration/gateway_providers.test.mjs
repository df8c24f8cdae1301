// The provider gateway against local servers that speak each provider's wire protocol
// (tests/integration/mock/): OpenAI, Anthropic Messages, Gemini, Ollama's native API and a
// custom OpenAI-compatible base URL. The client is the official `openai` SDK pointed at the
// node's /v1, unchanged.
//
// First the mocks themselves are held to their wire: the official OpenAI and Anthropic SDKs
// must parse what the OpenAI and Anthropic mocks send (streams, tool-call deltas, errors), so a
// mock cannot drift into a dialect only our node understands. Then, through the node, for each
// provider: plain and streamed answers with usage, the request as the upstream received it
// (the translation), tool calls both ways (the OpenAI tool_calls shape back, streamed as
// deltas), upstream errors mapped to the right status with the upstream's message, 429 with
// Retry-After honoured, 5xx retried, a connection reset / clean early end / malformed chunk /
// error event mid-stream surfacing as a stream error (never a silent truncation), a slow
// stream passed through as it arrives, stalls cut by the first-byte and idle timeouts, a
// client that leaves closing the upstream request; plus the cooldown, the /v2 provider routes
// (test, scan Ollama) and /v2/usage. What each wire must receive is in mock/expect.mjs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startOpenAI, startAnthropic, startGemini, startOllama, embed } from './mock/server.mjs';
import { startNode, readSSE } from './mock/node.mjs';
import { ECHO, BASIC, BASIC_USAGE, PARAMS, TOOLS, ARGS, TOOLS2, checkBasicRequest, checkLimitsRequest,
  checkToolsRequest, checkToolTurnRequest } from './mock/expect.mjs';

// The requests a mock got for one model name (in the body, or in the URL for Gemini).
const hitsFor = (mock, name) => mock.requests.filter((x) => x.body?.model === name || decodeURIComponent(x.path).includes(`/${name}:`));

let uniq = 0;
const tag = () => `u${++uniq}`;            // makes a model name unique (fault counters are per name)

// Drain an SDK stream: the chunks, their arrival times (ms since t0) and the error it ended with.
async function drain(stream, t0 = performance.now()) {
  const chunks = [];
  const times = [];
  let error = null;
  try {
    for await (const c of stream) { chunks.push(c); times.push(performance.now() - t0); }
  } catch (e) { error = e; }
  const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
  return { chunks, times, error, content };
}

// Tool calls assembled from streamed deltas, checking the delta discipline on the way.
function assembleToolCalls(chunks) {
  const calls = [];
  for (const c of chunks) {
    for (const tc of c.choices?.[0]?.delta?.tool_calls ?? []) {
      assert.equal(typeof tc.index, 'number', `tool call delta without an index: ${JSON.stringify(tc)}`);
      if (!calls[tc.index]) {
        assert.ok(tc.id, `the first delta of tool call ${tc.index} carries its id: ${JSON.stringify(tc)}`);
        assert.ok(typeof tc.function?.name === 'string' && tc.function.name.length, 'the first delta carries the function name');
        calls[tc.index] = { id: tc.id, type: tc.type ?? 'function', name: tc.function.name, arguments: '' };
      } else {
        assert.ok(!tc.id || tc.id === calls[tc.index].id, 'a later delta does not change the id');
      }
      calls[tc.index].arguments += tc.function?.arguments ?? '';
    }
  }
  return calls;
}

// ---------------------------------------------------------------------------------------------
describe('the mocks speak their wire (official SDKs, no node)', () => {
  let oai, ant, gem, oll;
  before(async () => {
    [oai, ant, gem, oll] = await Promise.all([startOpenAI({ apiKey: 'sk-direct' }), startAnthropic({ apiKey: 'ak-direct' }),
      startGemini({ apiKey: 'gk-direct' }), startOllama()]);
  });
  after(async () => { await Promise.all([oai, ant, gem, oll].map((m) => m.close())); });

  test('OpenAI mock: the openai SDK reads answers, usage, streamed tool calls and errors', async () => {
    const client = new OpenAI({ baseURL: oai.baseUrl, apiKey: 'sk-direct', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: BASIC });
    assert.equal(r.choices[0].message.content, ECHO);
    assert.equal(r.usage.prompt_tokens, 5);
    const s = await drain(await client.chat.completions.create({ model: 'gpt-4o-mini', messages: BASIC, stream: true,
      stream_options: { include_usage: true } }));
    assert.equal(s.error, null);
    assert.equal(s.content, ECHO);
    assert.deepEqual(s.chunks.at(-1).choices, []);
    assert.equal(s.chunks.at(-1).usage.completion_tokens, 4);
    // The SDK's own accumulator must rebuild the tool call from the mock's deltas.
    const runner = client.chat.completions.stream({ model: 'tools', messages: [{ role: 'user', content: 'Paris' }], tools: TOOLS });
    const final = await runner.finalChatCompletion();
    const tc = final.choices[0].message.tool_calls[0];
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), ARGS);
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    await assert.rejects(new OpenAI({ baseURL: oai.baseUrl, apiKey: 'sk-wrong', maxRetries: 0 })
      .chat.completions.create({ model: 'gpt-4o-mini', messages: BASIC }), (e) => e.status === 401 && /Incorrect API key/.test(e.message));
    await assert.rejects(client.chat.completions.create({ model: 'fault-429+ra-3', messages: BASIC }),
      (e) => e.status === 429 && e.headers.get('retry-after') === '3');
    const broken = await drain(await client.chat.completions.create({ model: 'reset-2', messages: BASIC, stream: true }));
    assert.ok(broken.error, 'a reset stream raises in the SDK');
    const bad = await drain(await client.chat.completions.create({ model: 'errevent-1', messages: BASIC, stream: true }));
    assert.match(String(bad.error?.message), /server had an error/);
  });

  test('Anthropic mock: the Anthropic SDK reads messages, streamed tool_use and errors', async () => {
    const client = new Anthropic({ baseURL: ant.baseUrl, apiKey: 'ak-direct', maxRetries: 0 });
    const m = await client.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 100, system: 'be brief',
      messages: [{ role: 'user', content: 'hello there world' }] });
    assert.equal(m.content[0].text, ECHO);
    assert.equal(m.usage.input_tokens, 5);
    const final = await client.messages.stream({ model: 'tools', max_tokens: 100, messages: [{ role: 'user', content: 'Paris' }],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: PARAMS }] }).finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(final.content.find((b) => b.type === 'tool_use').input, ARGS);
    await assert.rejects(client.messages.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e.status === 400 && /max_tokens: Field required/.test(e.message));
    await assert.rejects(client.messages.create({ model: 'fault-529', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e.status === 529 && /Overloaded/.test(e.message));
    await assert.rejects(async () => {
      for await (const ev of await client.messages.create({ model: 'errevent-2', max_tokens: 50, stream: true,
        messages: [{ role: 'user', content: 'a b c' }] })) void ev;
    }, /Overloaded/);
    await assert.rejects(new Anthropic({ baseURL: ant.baseUrl, apiKey: 'bad', maxRetries: 0 }).messages.create({
      model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }), (e) => e.status === 401);
  });

  test('Gemini mock: generateContent, SSE stream with CRLF framing, key checks', async () => {
    const body = { systemInstruction: { parts: [{ text: 'be brief' }] }, contents: [{ role: 'user', parts: [{ text: 'hello there world' }] }] };
    const post = (path, b, key = 'gk-direct') => fetch(`${gem.baseUrl}${path}`, { method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-goog-api-key': key } : {}) }, body: JSON.stringify(b) });
    const r = await (await post('/models/gemini-2.0-flash:generateContent', body)).json();
    assert.equal(r.candidates[0].content.parts[0].text, ECHO);
    assert.equal(r.candidates[0].finishReason, 'STOP');
    assert.deepEqual([r.usageMetadata.promptTokenCount, r.usageMetadata.candidatesTokenCount], [5, 4]);
    const res = await post('/models/gemini-2.0-flash:streamGenerateContent?alt=sse', body);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const events = await readSSE(res);
    assert.equal(events.map((e) => JSON.parse(e.data).candidates[0].content.parts[0].text).join(''), ECHO);
    assert.equal(JSON.parse(events.at(-1).data).candidates[0].finishReason, 'STOP');
    assert.equal((await post('/models/gemini-2.0-flash:generateContent', body, null)).status, 403);
    const wrong = await post('/models/gemini-2.0-flash:generateContent', body, 'nope');
    assert.equal(wrong.status, 400);
    assert.equal((await wrong.json()).error.details[0].reason, 'API_KEY_INVALID');
    const leak = await (await post('/models/gemini-2.0-flash:generateContent', { ...body, max_tokens: 5 })).json();
    assert.match(leak.error.message, /Unknown name "max_tokens"/);
  });

  test('Ollama mock: NDJSON stream with done/done_reason/eval counts, tags, embed', async () => {
    const res = await fetch(`${oll.baseUrl}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: BASIC }) });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.map((l) => l.message.content).join(''), ECHO);
    assert.deepEqual([lines.at(-1).done, lines.at(-1).done_reason, lines.at(-1).prompt_eval_count, lines.at(-1).eval_count], [true, 'stop', 5, 4]);
    const tags = await (await fetch(`${oll.baseUrl}/api/tags`)).json();
    assert.ok(tags.models.some((m) => m.name === 'llama3.2:latest'));
    const e = await (await fetch(`${oll.baseUrl}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'all-minilm', input: ['a', 'b'] }) })).json();
    assert.deepEqual(e.embeddings, [embed('a'), embed('b')]);
    const str = await fetch(`${oll.baseUrl}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', stream: false,
      messages: [{ role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: '{}' } }] }] }) });
    assert.equal(str.status, 400, 'string tool arguments are rejected as Ollama does');
  });

  // The fault plan behaves the same on every wire, so a failure through the node is the node's.
  test('every mock injects the faults its model name asks for', async () => {
    const send = (mock, model, stream, signal) => {
      const msgs = [{ role: 'user', content: 'one two three four' }];
      const h = { 'content-type': 'application/json' };
      switch (mock.wire) {
        case 'openai': return fetch(`${mock.baseUrl}/chat/completions`, { method: 'POST', signal,
          headers: { ...h, authorization: 'Bearer sk-direct' }, body: JSON.stringify({ model, messages: msgs, stream }) });
        case 'anthropic': return fetch(`${mock.baseUrl}/v1/messages`, { method: 'POST', signal,
          headers: { ...h, 'x-api-key': 'ak-direct', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model, max_tokens: 64, messages: msgs, stream }) });
        case 'gemini': return fetch(`${mock.baseUrl}/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, { method: 'POST', signal,
          headers: { ...h, 'x-goog-api-key': 'gk-direct' }, body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'one two three four' }] }] }) });
        default: return fetch(`${mock.baseUrl}/api/chat`, { method: 'POST', signal, body: JSON.stringify({ model, messages: msgs, stream }) });
      }
    };
    for (const mock of [oai, ant, gem, oll]) {
      const w = mock.wire;
      const first = await send(mock, 'fault-429x1+ra-2', false);
      assert.equal(first.status, 429, w);
      if (w !== 'gemini') assert.equal(first.headers.get('retry-after'), '2', w);
      else assert.equal((await first.json()).error.details.at(-1).retryDelay, '2s');
      assert.equal((await send(mock, 'fault-429x1+ra-2', false)).status, 200, `${w}: the fault applies once`);
      assert.equal((await send(mock, 'fault-500', false)).status, 500, w);
      await assert.rejects(send(mock, 'reset', false), `${w}: non-stream reset`);
      const reset = await send(mock, 'reset-2', true);
      assert.equal(reset.status, 200);
      await assert.rejects(reset.text(), `${w}: the body of a reset stream fails`);
      const hangAc = new AbortController();
      const hangTimer = setTimeout(() => hangAc.abort(), 300);
      await assert.rejects(send(mock, 'hang', false, hangAc.signal), /abort/i, `${w}: hang sends no headers`);
      clearTimeout(hangTimer);
      const cut = await (await send(mock, 'cut-1', true)).text();
      assert.ok(!/\[DONE\]|message_stop|finishReason|"done":true/.test(cut), `${w}: a cut stream has no end marker`);
      const bad = await (await send(mock, 'malformed-1', true)).text();
      assert.match(bad, /oops/, `${w}: malformed chunk sent`);
      const ac = new AbortController();
      const stalled = await send(mock, 'stall-1', true, ac.signal);
      const timer = setTimeout(() => ac.abort(), 400);
      await assert.rejects(stalled.text(), /abort/i, `${w}: a stalled stream stays open`);
      clearTimeout(timer);
      const t0 = performance.now();
      const slow = await send(mock, 'slow-150', true);
      const reader = slow.body.getReader();
      await reader.read();
      const tFirst = performance.now() - t0;
      while (!(await reader.read()).done);
      assert.ok(performance.now() - t0 - tFirst >= 500, `${w}: slow chunks are spread out`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Per provider kind: how to start its mock, register it, and what the upstream must have got.
const WIRES = {
  openai: { type: 'openai', start: startOpenAI, key: 'sk-mock-openai-0001', model: 'gpt-4o-mini', embedModel: 'text-embedding-3-small' },
  anthropic: { type: 'anthropic', start: startAnthropic, key: 'sk-ant-mock-0002', model: 'claude-3-5-haiku-latest' },
  gemini: { type: 'gemini', start: startGemini, key: 'AIza-mock-0003', model: 'gemini-2.0-flash' },
  ollama: { type: 'ollama', start: startOllama, key: null, model: 'llama3.2', embedModel: 'all-minilm' },
  compat: { type: 'openai-compatible', start: (o) => startOpenAI({ ...o, models: ['local-model'] }), key: 'compat-key-0004', model: 'local-model' },
};

describe('providers through the node (openai SDK on /v1)', () => {
  let node;
  let client;
  const mocks = {};
  let nProv = 0;

  // Register a provider for `wire` on its mock; returns its id. Fault tests get their own
  // provider, so the cooldown they cause cannot leak into other tests.
  async function addProvider(wire, extra = {}) {
    const w = WIRES[wire];
    const id = extra.id ?? `${wire}-${++nProv}`;
    const body = { id, type: w.type, base_url: mocks[wire].baseUrl, models: [w.model], ...(w.key ? { api_key: w.key } : {}), ...extra };
    const r = await node.api('POST', '/v2/add_llm_provider', body);
    assert.equal(r.status, 201, `add_llm_provider ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.equal(JSON.stringify(r.body).includes(body.api_key ?? '\u0000'), false, 'the answer never contains the key');
    return id;
  }

  before(async () => {
    for (const [wire, w] of Object.entries(WIRES)) mocks[wire] = await w.start({ apiKey: w.key ?? undefined });
    node = await startNode({ name: 'gwprov' });
    client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: node.key, maxRetries: 0, timeout: 60000 });
    for (const wire of Object.keys(WIRES)) await addProvider(wire, { id: wire });
  });
  after(async () => {
    if (node) await node.stop();
    await Promise.all(Object.values(mocks).map((m) => m.close()));
  });

  test('providers are listed without their keys, and their models in /v1/models', async () => {
    const r = await node.api('GET', '/v2/llm_providers');
    assert.equal(r.status, 200);
    const text = JSON.stringify(r.body);
    for (const w of Object.values(WIRES)) if (w.key) assert.ok(!text.includes(w.key), 'no key in the provider list');
    const ids = r.body.data.map((p) => p.id);
    for (const wire of Object.keys(WIRES)) assert.ok(ids.includes(wire), `provider ${wire} listed`);
    const oai = r.body.data.find((p) => p.id === 'openai');
    assert.equal(oai.has_api_key, true);
    assert.ok(oai.api_key_hint === null || (oai.api_key_hint.endsWith('0001') && oai.api_key_hint.length < 12),
      `a short hint at most: ${oai.api_key_hint}`);
    assert.equal(r.body.data.find((p) => p.id === 'ollama').has_api_key, false);
    const models = await client.models.list();
    const mids = [];
    for await (const m of models) mids.push(m.id);
    for (const [wire, w] of Object.entries(WIRES)) assert.ok(mids.includes(`${wire}/${w.model}`), `${wire}/${w.model} in /v1/models`);
  });

  for (const [wire, w] of Object.entries(WIRES)) {
    const model = `${wire}/${w.model}`;

    test(`${wire}: non-stream chat, usage, and the translated request`, async () => {
      mocks[wire].reset();
      const r = await client.chat.completions.create({ model, messages: BASIC, temperature: 0.5 });
      assert.equal(r.object, 'chat.completion');
      assert.equal(r.model, model, 'the model is named as the client asked');
      assert.equal(r.choices[0].message.role, 'assistant');
      assert.equal(r.choices[0].message.content, ECHO);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.deepEqual({ p: r.usage.prompt_tokens, c: r.usage.completion_tokens, t: r.usage.total_tokens },
        { p: BASIC_USAGE.prompt_tokens, c: BASIC_USAGE.completion_tokens, t: BASIC_USAGE.total_tokens });
      assert.equal(mocks[wire].requests.length, 1);
      checkBasicRequest(wire, w, mocks[wire].requests[0], false);
    });

    test(`${wire}: streamed chat with include_usage`, async () => {
      mocks[wire].reset();
      const s = await drain(await client.chat.completions.create({ model, messages: BASIC, temperature: 0.5, stream: true,
        stream_options: { include_usage: true } }));
      assert.equal(s.error, null, `stream error: ${s.error}`);
      assert.equal(s.content, ECHO);
      const ids = new Set(s.chunks.map((c) => `${c.id}|${c.created}|${c.model}`));
      assert.equal(ids.size, 1, `id/created/model identical on every chunk: ${[...ids]}`);
      assert.equal(s.chunks[0].model, model);
      assert.ok(s.chunks.every((c) => c.object === 'chat.completion.chunk'));
      assert.equal(s.chunks.find((c) => c.choices?.[0]?.delta?.role)?.choices[0].delta.role, 'assistant');
      const finishes = s.chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean);
      assert.deepEqual(finishes, ['stop']);
      const last = s.chunks.at(-1);
      assert.deepEqual(last.choices, [], 'the usage chunk comes last with no choices');
      assert.deepEqual({ p: last.usage.prompt_tokens, c: last.usage.completion_tokens }, { p: 5, c: 4 });
      assert.ok(s.chunks.length >= 4, 'the answer arrives in several chunks, not one');
      checkBasicRequest(wire, w, mocks[wire].requests[0], true);
    });

    test(`${wire}: max_tokens and stop are translated; a cut answer finishes with "length"`, async () => {
      mocks[wire].reset();
      const r = await client.chat.completions.create({ model, messages: BASIC, max_tokens: 2, stop: ['zzz'] });
      assert.equal(r.choices[0].message.content, 'echo: hello');
      assert.equal(r.choices[0].finish_reason, 'length');
      checkLimitsRequest(wire, mocks[wire].requests[0]);
    });

    test(`${wire}: tool calls come back in the OpenAI shape and the tool result goes up`, async () => {
      const pid = await addProvider(wire);
      const mock = mocks[wire];
      mock.reset();
      const q = [{ role: 'user', content: 'Paris' }];
      const r = await client.chat.completions.create({ model: `${pid}/tools`, messages: q, tools: TOOLS, tool_choice: 'auto' });
      const msg = r.choices[0].message;
      assert.equal(r.choices[0].finish_reason, 'tool_calls');
      assert.equal(msg.tool_calls.length, 1);
      const call = msg.tool_calls[0];
      assert.equal(call.type, 'function');
      assert.ok(typeof call.id === 'string' && call.id.length > 0, 'the call has an id');
      assert.equal(call.function.name, 'get_weather');
      assert.equal(typeof call.function.arguments, 'string', 'arguments are a JSON string');
      assert.deepEqual(JSON.parse(call.function.arguments), ARGS);
      checkToolsRequest(wire, mock.requests[0]);

      // The next turn carries the call and its result; the upstream validates the pairing.
      mock.reset();
      const turn = [...q, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }];
      const r2 = await client.chat.completions.create({ model: `${pid}/${w.model}`, messages: turn, tools: TOOLS });
      assert.equal(r2.choices[0].message.content, 'echo: Paris');
      checkToolTurnRequest(wire, mock.requests[0], call);
    });

    test(`${wire}: tool calls stream as deltas`, async () => {
      const pid = await addProvider(wire);
      const s = await drain(await client.chat.completions.create({ model: `${pid}/tools`, stream: true,
        messages: [{ role: 'user', content: 'Paris' }], tools: TOOLS }));
      assert.equal(s.error, null, `stream error: ${s.error}`);
      const calls = assembleToolCalls(s.chunks);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].type, 'function');
      assert.deepEqual(JSON.parse(calls[0].arguments), ARGS);
      const finishes = s.chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean);
      assert.deepEqual(finishes, ['tool_calls']);
      assert.ok(s.chunks.every((c) => c.usage == null && c.choices?.length), 'no usage chunk unless include_usage was asked');
    });

    if (w.key) {
      test(`${wire}: a wrong upstream key is an auth error carrying the upstream's message`, async () => {
        const pid = await addProvider(wire, { api_key: 'definitely-wrong-key' });
        const upstream = { openai: /Incorrect API key/, compat: /Incorrect API key/, anthropic: /invalid x-api-key/,
          gemini: /API key not valid/ }[wire];
        await assert.rejects(client.chat.completions.create({ model: `${pid}/${w.model}`, messages: BASIC }), (e) => {
          assert.ok([401, 502].includes(e.status) || (wire === 'gemini' && [400, 403].includes(e.status)), `status ${e.status}: ${e.message}`);
          assert.match(e.message, upstream);
          assert.ok(!e.message.includes('definitely-wrong-key'), 'the key is not echoed back');
          return true;
        });
      });
    }

    test(`${wire}: an upstream 400 is a 400 with the upstream's message`, async () => {
      const pid = await addProvider(wire);
      const before_ = mocks[wire].requests.length;
      await assert.rejects(client.chat.completions.create({ model: `${pid}/fault-400+${tag()}`, messages: BASIC }), (e) => {
        assert.equal(e.status, 400, e.message);
        assert.match(e.message, /mock rejected the request|invalid argument/);
        return true;
      });
      assert.equal(mocks[wire].requests.length - before_, 1, 'a 400 is not retried');
    });

    test(`${wire}: 429${wire === 'ollama' ? '/503' : ''} with Retry-After is honoured, then the retry succeeds`, async (t) => {
      const pid = await addProvider(wire);
      const status = wire === 'ollama' ? 503 : 429;
      const name = `fault-${status}x1+ra-1+${tag()}`;
      const t0 = performance.now();
      const r = await client.chat.completions.create({ model: `${pid}/${name}`, messages: [{ role: 'user', content: 'again' }] });
      const ms = performance.now() - t0;
      assert.equal(r.choices[0].message.content, 'echo: again');
      const hits = hitsFor(mocks[wire], name);
      assert.equal(hits.length, 2, 'one failed attempt, one retry');
      if (wire === 'gemini') {
        // Gemini puts the delay in the body (RetryInfo.retryDelay "1s"), not in a header.
        t.diagnostic(`gemini: retried ${hits[1].time - hits[0].time} ms after the 429 (RetryInfo.retryDelay 1s; ${ms.toFixed(0)} ms in all)`);
      } else {
        assert.ok(hits[1].time - hits[0].time >= 950, `the retry waited ${hits[1].time - hits[0].time} ms for Retry-After: 1`);
      }
    });

    test(`${wire}: 5xx is retried with backoff until it succeeds`, async () => {
      const pid = await addProvider(wire);
      const name = `fault-${wire === 'anthropic' ? 529 : 500}x2+${tag()}`;
      const r = await client.chat.completions.create({ model: `${pid}/${name}`, messages: [{ role: 'user', content: 'retry me' }] });
      assert.equal(r.choices[0].message.content, 'echo: retry me');
      const hits = hitsFor(mocks[wire], name);
      assert.equal(hits.length, 3, 'two failures then the answer (max_retries defaults to 2)');
      assert.ok(hits[1].time - hits[0].time >= 50, `the first retry waited ${hits[1].time - hits[0].time} ms (backoff)`);
    });

    test(`${wire}: retries exhausted on 5xx give 502 with the upstream's message`, async () => {
      const pid = await addProvider(wire, { max_retries: 1 });
      const name = `fault-500+${tag()}`;
      await assert.rejects(client.chat.completions.create({ model: `${pid}/${name}`, messages: BASIC }), (e) => {
        assert.equal(e.status, 502, e.message);
        assert.match(e.message, /error|terminated/i);
        return true;
      });
      const hits = hitsFor(mocks[wire], name);
      assert.equal(hits.length, 2, 'max_retries 1: two attempts');
    });

    test(`${wire}: a connection reset mid-stream raises in the SDK stream`, async () => {
      const pid = await addProvider(wire);
      const s = await drain(await client.chat.completions.create({ model: `${pid}/reset-2+${tag()}`, stream: true,
        messages: [{ role: 'user', content: 'one two three four five' }] }));
      assert.ok(s.error, `no error: the stream ended silently after ${JSON.stringify(s.content)}`);
      assert.ok('echo: one two three four five'.startsWith(s.content), `partial content is a prefix: ${JSON.stringify(s.content)}`);
      assert.ok(s.content.length < 'echo: one two three four five'.length);
    });

    test(`${wire}: a stream that ends cleanly before its end marker raises (no silent truncation)`, async () => {
      const pid = await addProvider(wire);
      const s = await drain(await client.chat.completions.create({ model: `${pid}/cut-2+${tag()}`, stream: true,
        messages: [{ role: 'user', content: 'one two three four five' }] }));
      assert.ok(s.error, `no error: the stream ended silently after ${JSON.stringify(s.content)}`);
      assert.ok('echo: one two three four five'.startsWith(s.content));
    });

    test(`${wire}: a non-stream connection reset is retried, then 502`, async () => {
      const pid = await addProvider(wire, { max_retries: 1 });
      const name = `reset+${tag()}`;
      await assert.rejects(client.chat.completions.create({ model: `${pid}/${name}`, messages: BASIC }),
        (e) => { assert.equal(e.status, 502, e.message); return true; });
      const hits = hitsFor(mocks[wire], name);
      assert.equal(hits.length, 2);
    });

    test(`${wire}: a malformed chunk raises in the SDK stream`, async () => {
      const pid = await addProvider(wire);
      const s = await drain(await client.chat.completions.create({ model: `${pid}/malformed-2+${tag()}`, stream: true,
        messages: [{ role: 'user', content: 'one two three four five' }] }));
      assert.ok(s.error, `no error: the stream ended silently after ${JSON.stringify(s.content)}`);
      assert.ok(!s.content.includes('oops'));
    });

    test(`${wire}: an error event mid-stream raises in the SDK stream with the upstream's message`, async () => {
      const pid = await addProvider(wire);
      const s = await drain(await client.chat.completions.create({ model: `${pid}/errevent-2+${tag()}`, stream: true,
        messages: [{ role: 'user', content: 'one two three four five' }] }));
      assert.ok(s.error, `no error: the stream ended silently after ${JSON.stringify(s.content)}`);
      const upstream = { anthropic: /Overloaded/, gemini: /internal error/, ollama: /unexpected EOF/, openai: /server had an error/,
        compat: /server had an error/ }[wire];
      assert.match(s.error.message, upstream);
    });

    test(`${wire}: a slow stream is passed through as it arrives`, async () => {
      const pid = await addProvider(wire);
      const t0 = performance.now();
      const s = await drain(await client.chat.completions.create({ model: `${pid}/slow-400+${tag()}`, stream: true,
        messages: [{ role: 'user', content: 'one two three four five' }] }), t0);
      assert.equal(s.error, null, `stream error: ${s.error}`);
      assert.equal(s.content, 'echo: one two three four five');
      const contentTimes = s.chunks.map((c, i) => (c.choices?.[0]?.delta?.content ? s.times[i] : null)).filter((x) => x !== null);
      assert.equal(contentTimes.length, 6);
      // Upstream sends a word every 400 ms (2.4 s in all): the first must arrive long before the last.
      assert.ok(contentTimes[0] < 1500, `first content after ${contentTimes[0].toFixed(0)} ms`);
      assert.ok(contentTimes[5] - contentTimes[0] >= 1500, `content spread over ${(contentTimes[5] - contentTimes[0]).toFixed(0)} ms, not buffered`);
      for (let i = 1; i < 6; i++)
        assert.ok(contentTimes[i] - contentTimes[i - 1] >= 200, `chunk ${i} came ${(contentTimes[i] - contentTimes[i - 1]).toFixed(0)} ms after the previous`);
    });

    test(`${wire}: a stalled stream is cut by the idle timeout with an error`, async () => {
      const pid = await addProvider(wire, { idle_timeout_ms: 1500, max_retries: -1 });
      const t0 = performance.now();
      const s = await drain(await client.chat.completions.create({ model: `${pid}/stall-1+${tag()}`, stream: true,
        messages: [{ role: 'user', content: 'one two three' }] }), t0);
      const ms = performance.now() - t0;
      assert.ok(s.error, `no error: the stream ended silently after ${JSON.stringify(s.content)}`);
      assert.match(s.error.message, /time|idle/i);
      assert.ok(ms >= 1200 && ms < 15000, `cut after ${ms.toFixed(0)} ms (idle timeout 1500)`);
    });

    test(`${wire}: an upstream that never answers is a 504 after the first-byte timeout`, async () => {
      const pid = await addProvider(wire, { first_byte_timeout_ms: 1500, max_retries: -1 });
      for (const stream of [false, true]) {   // nothing was sent yet, so a stream fails with a status too
        const t0 = performance.now();
        await assert.rejects(client.chat.completions.create({ model: `${pid}/hang+${tag()}`, messages: BASIC, stream }),
          (e) => { assert.equal(e.status, 504, e.message); assert.match(e.message, /time/i); return true; });
        const ms = performance.now() - t0;
        assert.ok(ms >= 1200 && ms < 15000, `stream ${stream}: answered after ${ms.toFixed(0)} ms (first-byte timeout 1500)`);
      }
    });

    test(`${wire}: a stalled non-stream answer is a 504 after the idle timeout`, async () => {
      const pid = await addProvider(wire, { idle_timeout_ms: 1500, max_retries: -1 });
      const t0 = performance.now();
      await assert.rejects(client.chat.completions.create({ model: `${pid}/stall+${tag()}`, messages: BASIC }),
        (e) => { assert.equal(e.status, 504, e.message); return true; });
      const ms = performance.now() - t0;
      assert.ok(ms >= 1200 && ms < 15000, `answered after ${ms.toFixed(0)} ms`);
    });
  }

  // More translation: parallel tool calls, tool_choice, response_format, content parts,
  // multi-turn roles, cached tokens, and a client that goes away.
  for (const [wire, w] of Object.entries(WIRES)) {
    const model = `${wire}/${w.model}`;

    test(`${wire}: parallel tool calls, and both results go up in the next turn`, async () => {
      const pid = await addProvider(wire);
      const mock = mocks[wire];
      const q = [{ role: 'user', content: 'Paris' }];
      const r = await client.chat.completions.create({ model: `${pid}/tools-2`, messages: q, tools: TOOLS2 });
      const calls = r.choices[0].message.tool_calls;
      assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']);
      assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments)), [ARGS, { zone: 'Paris' }]);
      assert.equal(new Set(calls.map((c) => c.id)).size, 2, 'distinct call ids');
      const s = await drain(await client.chat.completions.create({ model: `${pid}/tools-2`, messages: q, tools: TOOLS2, stream: true }));
      assert.equal(s.error, null, `stream error: ${s.error}`);
      const streamed = assembleToolCalls(s.chunks);
      assert.deepEqual(streamed.map((c) => [c.name, JSON.parse(c.arguments)]), [['get_weather', ARGS], ['get_time', { zone: 'Paris' }]]);
      mock.reset();
      const turn = [...q, { role: 'assistant', content: null, tool_calls: calls },
        { role: 'tool', tool_call_id: calls[0].id, content: '{"temp":21}' }, { role: 'tool', tool_call_id: calls[1].id, content: '{"time":"10:00"}' }];
      const r2 = await client.chat.completions.create({ model: `${pid}/${w.model}`, messages: turn, tools: TOOLS2 });
      assert.equal(r2.choices[0].message.content, 'echo: Paris');
      const b = mock.requests[0].body;
      if (wire === 'anthropic') {
        assert.equal(b.messages.length, 3, 'both tool results in one user turn, as Anthropic requires');
        assert.deepEqual(b.messages[2].content.map((x) => x.tool_use_id), calls.map((c) => c.id));
      } else if (wire === 'gemini') {
        const names = b.contents.slice(2).flatMap((c) => c.parts).map((p) => (p.functionResponse ?? p.function_response)?.name);
        assert.deepEqual(names, ['get_weather', 'get_time']);
      }
    });

    if (wire !== 'ollama') {
      test(`${wire}: tool_choice is translated`, async () => {
        const mock = mocks[wire];
        const cases = [['required', { anthropic: { type: 'any' }, gemini: { mode: 'ANY' } }],
          [{ type: 'function', function: { name: 'get_time' } }, { anthropic: { type: 'tool', name: 'get_time' }, gemini: { mode: 'ANY', allowedFunctionNames: ['get_time'] } }],
          ['none', { anthropic: { type: 'none' }, gemini: { mode: 'NONE' } }]];
        for (const [choice, want] of cases) {
          mock.reset();
          await client.chat.completions.create({ model, messages: BASIC, tools: TOOLS2, tool_choice: choice });
          const b = mock.requests[0].body;
          if (wire === 'anthropic') {
            if (choice === 'none' && b.tools === undefined) continue;   // dropping the tools is as good
            assert.deepEqual(b.tool_choice, want.anthropic, JSON.stringify(choice));
          } else if (wire === 'gemini') {
            const fcc = (b.toolConfig ?? b.tool_config)?.functionCallingConfig ?? (b.toolConfig ?? b.tool_config)?.function_calling_config;
            if (choice === 'none' && b.tools === undefined) continue;
            assert.equal(fcc?.mode, want.gemini.mode, JSON.stringify(choice));
            if (want.gemini.allowedFunctionNames)
              assert.deepEqual(fcc.allowedFunctionNames ?? fcc.allowed_function_names, want.gemini.allowedFunctionNames);
          } else {
            assert.deepEqual(b.tool_choice, choice);
          }
        }
      });
    }

    if (wire !== 'anthropic') {
      test(`${wire}: response_format json_object and json_schema are translated`, async () => {
        const mock = mocks[wire];
        const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
        mock.reset();
        await client.chat.completions.create({ model, messages: BASIC, response_format: { type: 'json_object' } });
        await client.chat.completions.create({ model, messages: BASIC,
          response_format: { type: 'json_schema', json_schema: { name: 'place', schema } } });
        const [a, b] = mock.requests.map((x) => x.body);
        if (wire === 'gemini') {
          const ga = a.generationConfig ?? a.generation_config;
          const gb = b.generationConfig ?? b.generation_config;
          assert.equal(ga.responseMimeType ?? ga.response_mime_type, 'application/json');
          assert.equal(gb.responseMimeType ?? gb.response_mime_type, 'application/json');
          const sch = gb.responseJsonSchema ?? gb.response_json_schema ?? gb.responseSchema ?? gb.response_schema;
          assert.deepEqual(Object.keys(sch.properties), ['city']);
        } else if (wire === 'ollama') {
          assert.equal(a.format, 'json');
          assert.deepEqual(b.format, schema);
        } else {
          assert.deepEqual(a.response_format, { type: 'json_object' });
          assert.deepEqual(b.response_format.json_schema.schema, schema);
        }
      });
    }

    test(`${wire}: content parts and a multi-turn history keep their roles and text`, async () => {
      const mock = mocks[wire];
      mock.reset();
      const history = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' },
        { role: 'user', content: [{ type: 'text', text: 'hello there' }, { type: 'text', text: 'world' }] }];
      const r = await client.chat.completions.create({ model, messages: history });
      assert.match(r.choices[0].message.content, /^echo: hello there ?world$/);
      const b = mock.requests[0].body;
      const roles = { openai: b.messages?.map((m) => m.role), compat: b.messages?.map((m) => m.role), ollama: b.messages?.map((m) => m.role),
        anthropic: b.messages?.map((m) => m.role), gemini: b.contents?.map((c) => c.role) }[wire];
      assert.deepEqual(roles, wire === 'gemini' ? ['user', 'model', 'user'] : ['user', 'assistant', 'user']);
      if (wire === 'ollama') assert.equal(typeof b.messages[2].content, 'string', 'Ollama content is a string');
    });

    if (wire !== 'ollama') {
      test(`${wire}: cached prompt tokens are reported as OpenAI counts them`, async () => {
        const pid = await addProvider(wire);
        const r = await client.chat.completions.create({ model: `${pid}/cached-3`, messages: BASIC });
        assert.equal(r.usage.prompt_tokens, 5, 'prompt_tokens includes the cached ones');
        assert.equal(r.usage.prompt_tokens_details?.cached_tokens, 3);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
      });
    }

    test(`${wire}: a client that goes away mid-stream closes the upstream request`, async () => {
      const pid = await addProvider(wire);
      const name = `slow-300+${tag()}`;
      const stream = await client.chat.completions.create({ model: `${pid}/${name}`, stream: true,
        messages: [{ role: 'user', content: 'a b c d e f g h i j k l' }] });
      let abortedAt = 0;
      // Leaving the loop makes the SDK abort its request: the connection to the node closes.
      for await (const c of stream) if (c.choices?.[0]?.delta?.content) { abortedAt = Date.now(); break; }
      assert.ok(abortedAt > 0, 'content arrived before the client left');
      const [rec] = hitsFor(mocks[wire], name);
      for (let i = 0; i < 40 && rec.closedAt === undefined; i++) await new Promise((res) => setTimeout(res, 100));
      assert.ok(rec.closedAt !== undefined, 'the upstream request was closed');
      assert.equal(rec.clientGone, true, 'closed before the upstream finished its answer');
      assert.ok(rec.closedAt - abortedAt < 2500, `closed ${rec.closedAt - abortedAt} ms after the client left (the answer would take 3.9 s)`);
    });
  }

  test('anthropic: 529 overloaded is retried like a 5xx', async () => {
    const pid = await addProvider('anthropic');
    const name = `fault-529x1+${tag()}`;
    const r = await client.chat.completions.create({ model: `${pid}/${name}`, messages: [{ role: 'user', content: 'busy' }] });
    assert.equal(r.choices[0].message.content, 'echo: busy');
  });

  test('a 429 that outlasts the retries reaches the client as 429 with Retry-After', async () => {
    const pid = await addProvider('openai', { max_retries: 1 });
    const res = await fetch(`${node.url}/v1/chat/completions`, { method: 'POST',
      headers: { authorization: `Bearer ${node.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: `${pid}/fault-429+ra-1+${tag()}`, messages: BASIC }) });
    const body = await res.json();
    assert.equal(res.status, 429, JSON.stringify(body));
    assert.ok(Number(res.headers.get('retry-after')) >= 1, `Retry-After: ${res.headers.get('retry-after')}`);
    assert.match(body.error.message, /Rate limit/);
  });

  // The router skips a cooling provider only when another target is left (router.c), so with
  // one target the request still goes out; what is observable is the health bookkeeping.
  test('a provider that keeps failing goes on cooldown; a success clears it', async () => {
    const pid = await addProvider('openai', { max_retries: -1 });
    for (let i = 0; i < 3; i++)
      await assert.rejects(client.chat.completions.create({ model: `${pid}/fault-500+${tag()}`, messages: BASIC }), (e) => e.status === 502);
    const list = async () => (await node.api('GET', '/v2/llm_providers')).body.data.find((p) => p.id === pid);
    const cooling = await list();
    assert.ok(cooling.cooldown_until_ms > Date.now(), `cooldown_until_ms ${cooling.cooldown_until_ms}`);
    assert.equal(cooling.consecutive_failures, 3);
    const r = await client.chat.completions.create({ model: `${pid}/gpt-4o-mini`, messages: BASIC });
    assert.equal(r.choices[0].message.content, ECHO, 'the only target is still tried');
    const healed = await list();
    assert.equal(healed.consecutive_failures, 0);
    assert.equal(healed.cooldown_until_ms, 0);
  });

  test('an alias with fallbacks rescues a request', { skip: 'no node API or config defines aliases yet (hz_gw_alias_set is unreachable from /v2 and hanzo.toml)' }, () => {});

  test('embeddings through OpenAI and Ollama providers, float and base64', async () => {
    for (const wire of ['openai', 'ollama']) {
      const w = WIRES[wire];
      const r = await client.embeddings.create({ model: `${wire}/${w.embedModel}`, input: ['red apple', 'green'], encoding_format: 'float' });
      assert.equal(r.data.length, 2);
      assert.deepEqual(r.data.map((d) => d.embedding.map((x) => Math.round(x * 1e5))),
        [embed('red apple'), embed('green')].map((v) => v.map((x) => Math.round(x * 1e5))), `${wire} vectors`);
      const b = await fetch(`${node.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${node.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: `${wire}/${w.embedModel}`, input: 'red apple', encoding_format: 'base64' }) });
      const bj = await b.json();
      assert.equal(b.status, 200, JSON.stringify(bj));
      const raw = Buffer.from(bj.data[0].embedding, 'base64');
      const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
      assert.deepEqual([...f].map((x) => Math.round(x * 1e5)), embed('red apple').map((x) => Math.round(x * 1e5)));
    }
  });

  test('GET /v2/scan_ollama_models lists the Ollama server\'s models', async () => {
    const r = await node.api('GET', `/v2/scan_ollama_models?base_url=${encodeURIComponent(mocks.ollama.baseUrl)}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const names = r.body.models.map((m) => m.name);
    assert.deepEqual(names, ['llama3.2:latest', 'qwen2.5:0.5b', 'all-minilm:latest']);
    assert.equal(r.body.models[1].details.parameter_size, '494.03M');
    const dead = await node.api('GET', '/v2/scan_ollama_models?base_url=http://127.0.0.1:9&timeout_ms=1000');
    assert.ok(dead.status >= 500, `unreachable Ollama: ${dead.status}`);
  });

  test('POST /v2/test_llm_provider does a real round trip', async () => {
    for (const wire of Object.keys(WIRES)) {
      mocks[wire].reset();
      const r = await node.api('POST', '/v2/test_llm_provider', { id: wire });
      assert.equal(r.status, 200, `${wire}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.ok, true, `${wire}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.latency_ms >= 0);
      assert.ok(mocks[wire].requests.length >= 1, `${wire}: the upstream was called`);
    }
    const bad = await addProvider('anthropic', { api_key: 'definitely-wrong-key' });
    const r = await node.api('POST', '/v2/test_llm_provider', { id: bad });
    const failed = r.status >= 400 || r.body.ok === false;
    assert.ok(failed, `a wrong key fails the test: ${JSON.stringify(r.body)}`);
    assert.match(JSON.stringify(r.body), /invalid x-api-key/);
    assert.ok(!JSON.stringify(r.body).includes('definitely-wrong-key'));
  });

  test('GET /v2/usage counts the calls per provider', async () => {
    const pid = await addProvider('anthropic', { id: 'usage-probe' });
    const t0 = Date.now() - 1;
    await client.chat.completions.create({ model: `${pid}/claude-3-5-haiku-latest`, messages: BASIC });
    await drain(await client.chat.completions.create({ model: `${pid}/claude-3-5-haiku-latest`, messages: BASIC, stream: true }));
    await assert.rejects(client.chat.completions.create({ model: `${pid}/fault-400+${tag()}`, messages: BASIC }));
    // Accounting may be written just after the answer: give it a moment.
    let g;
    for (let i = 0; i < 20; i++) {
      const r = await node.api('GET', `/v2/usage?group_by=provider&from=${t0}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      g = r.body.groups.find((x) => x.key === pid);
      if (g && g.requests >= 3) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(g, 'the provider has a usage group');
    assert.equal(g.requests, 3);
    assert.equal(g.errors, 1);
    assert.equal(g.prompt_tokens, 10, 'both successful calls counted 5 prompt tokens');
    assert.equal(g.completion_tokens, 8);
    const future = await node.api('GET', `/v2/usage?group_by=provider&from=${Date.now() + 60000}`);
    assert.equal(future.status, 200);
    assert.equal(future.body.groups.find((x) => x.key === pid), undefined, 'nothing in a range after the calls');
    const byModel = await node.api('GET', `/v2/usage?group_by=model&from=${t0}`);
    assert.ok(byModel.body.groups.some((x) => x.key === `${pid}/claude-3-5-haiku-latest`), JSON.stringify(byModel.body.groups));
  });
});
