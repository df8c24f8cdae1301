// llama.cpp's own llama-server, from the same llama.cpp build as the node's engine, as a real
// upstream behind an "openai-compatible" provider: the answers the official openai SDK gets
// through the node must be exactly the ones it gets from llama-server directly (temperature 0,
// the same seed, the tiny generated chat model), streamed and not, usage included.
//
// llama-server is only built by `scripts/bootstrap --with-tools` (slow), so without it this
// test is skipped with a message saying how to get it; HZ_LLAMA_TOOLS overrides where to look,
// as in bench/llm_engine.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startNode } from './mock/node.mjs';

const SRC = process.env.HZ_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TOOLS = process.env.HZ_LLAMA_TOOLS ?? path.join(SRC, '.deps/build/llama-tools/bin');
const SERVER = path.join(TOOLS, 'llama-server');
const GGUF_GEN = process.env.HZ_TOOLS_DIR ? path.join(process.env.HZ_TOOLS_DIR, 'gguf_gen') : null;
const missing = !fs.existsSync(SERVER) ? `llama-server not found in ${TOOLS} (build it with scripts/bootstrap --with-tools, or set HZ_LLAMA_TOOLS)`
  : !GGUF_GEN || !fs.existsSync(GGUF_GEN) ? 'gguf_gen is not built (HZ_TOOLS_DIR must point at the test tools; ctest sets it)' : null;

const SEED = 1234;
const MESSAGES = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Name three colours.' }];

async function freePort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

let tmp, llama, llamaLog = '', node, direct, proxied;

before(async () => {
  if (missing) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hz-llama-server-'));
  const model = path.join(tmp, 'tiny-chat.gguf');
  execFileSync(GGUF_GEN, ['chat', model, '--seed', '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await freePort();
  llama = spawn(SERVER, ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', '2048', '-np', '1',
    '-t', '2', '--seed', String(SEED)], { stdio: ['ignore', 'pipe', 'pipe'] });
  llama.stdout.on('data', (d) => { llamaLog += d; });
  llama.stderr.on('data', (d) => { llamaLog += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120000;
  for (;;) {
    if (llama.exitCode !== null) throw new Error(`llama-server exited (${llama.exitCode}):\n${llamaLog}`);
    try { if ((await fetch(`${base}/health`)).status === 200) break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`llama-server not healthy within 120 s:\n${llamaLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  node = await startNode({ name: 'gwllama' });
  const r = await node.api('POST', '/v2/add_llm_provider', { id: 'llamacpp', type: 'openai-compatible',
    base_url: `${base}/v1`, models: ['tiny'] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  direct = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  proxied = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: node.key, maxRetries: 0 });
});

after(async () => {
  if (node) await node.stop();
  if (llama && llama.exitCode === null) { llama.kill('SIGTERM'); await once(llama, 'exit'); }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const params = (extra = {}) => ({ messages: MESSAGES, temperature: 0, seed: SEED, max_tokens: 24, ...extra });

test('non-stream chat through the node equals llama-server directly', { skip: missing ?? false }, async () => {
  const a = await direct.chat.completions.create({ model: 'tiny', ...params() });
  const b = await proxied.chat.completions.create({ model: 'llamacpp/tiny', ...params() });
  assert.ok(a.choices[0].message.content.length > 0, 'llama-server produced text');
  assert.equal(b.choices[0].message.content, a.choices[0].message.content);
  assert.equal(b.choices[0].finish_reason, a.choices[0].finish_reason);
  assert.equal(b.usage.prompt_tokens, a.usage.prompt_tokens);
  assert.equal(b.usage.completion_tokens, a.usage.completion_tokens);
  assert.equal(b.model, 'llamacpp/tiny');
});

test('streamed chat through the node equals llama-server directly, usage included', { skip: missing ?? false }, async () => {
  const collect = async (client, model) => {
    const chunks = [];
    for await (const c of await client.chat.completions.create({ model, ...params({ stream: true, stream_options: { include_usage: true } }) }))
      chunks.push(c);
    return {
      text: chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join(''),
      finish: chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean),
      usage: chunks.at(-1).usage,
      n: chunks.length,
    };
  };
  const a = await collect(direct, 'tiny');
  const b = await collect(proxied, 'llamacpp/tiny');
  assert.ok(a.text.length > 0);
  assert.equal(b.text, a.text);
  assert.deepEqual(b.finish, a.finish);
  assert.equal(b.usage?.prompt_tokens, a.usage?.prompt_tokens);
  assert.equal(b.usage?.completion_tokens, a.usage?.completion_tokens);
  assert.ok(b.n >= 3, `the answer streams in several chunks (${b.n})`);
  // And the non-stream answer is the same text: one model, one seed.
  const whole = await proxied.chat.completions.create({ model: 'llamacpp/tiny', ...params() });
  assert.equal(whole.choices[0].message.content, b.text);
});

test('test_llm_provider reaches llama-server', { skip: missing ?? false }, async () => {
  const r = await node.api('POST', '/v2/test_llm_provider', { id: 'llamacpp' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.ok, true, JSON.stringify(r.body));
});
