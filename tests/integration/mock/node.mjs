// Starting a hanzo node for the gateway tests, the way tests/integration/lib/common.sh does for
// the shell tests: its own HOME and storage folder in a temp dir, the API on a free port, and
// the key and address read back from <storage>/api_key and <storage>/api_address. Also a small
// JSON client for the node's /v2 routes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves to {url, key, storage, home, proc, log(), api(method, path, body), stop()}.
export async function startNode({ args = [], env = {}, name = 'gw' } = {}) {
  const bin = process.env.HANZO_BIN;
  if (!bin) throw new Error('HANZO_BIN must point at the hanzo program (ctest sets it)');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `hz-${name}-`));
  const storage = path.join(home, '.hanzo', 'storage');
  const proc = spawn(bin, ['node', '--storage-path', storage, '--api-listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const addrFile = path.join(storage, 'api_address');
  const keyFile = path.join(storage, 'api_key');
  const deadline = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node exited (${proc.exitCode}) during start:\n${log}`);
    if (fs.existsSync(addrFile) && fs.statSync(addrFile).size > 0 && fs.existsSync(keyFile)) break;
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`node did not start within 60 s:\n${log}`); }
    await sleep(50);
  }
  const url = `http://${fs.readFileSync(addrFile, 'utf8').trim()}`;
  const key = fs.readFileSync(keyFile, 'utf8').trim();
  const node = {
    url, key, storage, home, proc,
    log: () => log,
    // A JSON request to the node with its key; resolves to {status, headers, body (parsed or text)}.
    async api(method, p, body) {
      const res = await fetch(url + p, { method, headers: { authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      let parsed = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON: keep the text */ }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await once(proc, 'exit');
        clearTimeout(timer);
      }
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
  return node;
}

// Read a text/event-stream body into [{event, data}] (for checking raw SSE from the node).
export async function readSSE(res) {
  const text = await res.text();
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    out.push({ event, data: data.join('\n') });
  }
  return out;
}
