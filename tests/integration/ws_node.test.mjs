// WebSocket interoperability: the `ws` npm client (a widely used, independent RFC 6455
// implementation) against our server, through tests/tools/ws_echo_server (the public
// hanzo/http.h API: libmicrohttpd upgrade + src/http/websocket.c framing). Checks echo of text
// and binary across all three length encodings, ping/pong, fragmented client messages with
// an interleaved ping, the close handshake started from either side, the 1009 message limit,
// the 426 answer to a plain GET, and 1001 on SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import WebSocket from 'ws';

const TOOLS = process.env.HZ_TOOLS_DIR;
assert.ok(TOOLS, 'HZ_TOOLS_DIR must point at the built test tools (ctest sets it)');
const SERVER_BIN = path.join(TOOLS, 'ws_echo_server');
const LIMIT = 1 << 20;

// Start an echo server; resolves with {proc, port, stderr()}.
async function startServer(limit = LIMIT) {
  const proc = spawn(SERVER_BIN, [String(limit)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(Number(out.slice(0, nl)));
    });
    proc.once('exit', (code) => reject(new Error(`ws_echo_server exited (${code}) before serving: ${err}`)));
  });
  assert.ok(port > 0 && port < 65536, `bad port line ${JSON.stringify(out)}`);
  return { proc, port, stderr: () => err };
}

let server;
before(async () => { server = await startServer(); });
after(async () => {
  if (server.proc.exitCode === null) {
    server.proc.kill('SIGTERM');
    await once(server.proc, 'exit');
  }
});

async function connect(srv = server) {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`);
  await once(ws, 'open');
  return ws;
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const onMessage = (data, isBinary) => { ws.off('close', onClose); resolve({ data, isBinary }); };
    const onClose = (code) => { ws.off('message', onMessage); reject(new Error(`closed with ${code} while waiting for a message`)); };
    ws.once('message', onMessage);
    ws.once('close', onClose);
  });
}

function nextClose(ws) {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

// Text made of 1-, 2-, 3- and 4-byte UTF-8 characters, cut to whole characters near n bytes.
function text(n) {
  const unit = 'aé€😀';
  let s = unit.repeat(Math.ceil(n / 10) + 1);
  while (Buffer.byteLength(s) > n) s = s.slice(0, -1);
  if (s.length && /[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1);
  return s;
}

test('echoes text and binary at every length encoding', async () => {
  const ws = await connect();
  for (const size of [0, 1, 125, 126, 65535, 65536, LIMIT]) {
    const t = text(size);
    ws.send(t);
    const m = await nextMessage(ws);
    assert.equal(m.isBinary, false);
    assert.equal(m.data.toString(), t, `text of ${Buffer.byteLength(t)} bytes`);

    const b = randomBytes(size);
    ws.send(b);
    const mb = await nextMessage(ws);
    assert.equal(mb.isBinary, true);
    assert.ok(Buffer.compare(mb.data, b) === 0, `binary of ${size} bytes`);
  }
  ws.close(1000);
  assert.equal((await nextClose(ws)).code, 1000);
});

test('answers pings with pongs carrying the same payload', async () => {
  const ws = await connect();
  for (const payload of [Buffer.alloc(0), Buffer.from('hello'), randomBytes(125)]) {
    ws.ping(payload);
    const [got] = await once(ws, 'pong');
    assert.ok(Buffer.compare(got, payload) === 0);
  }
  ws.close(1000);
  await nextClose(ws);
});

test('reassembles fragmented client messages, with a ping in between', async () => {
  const ws = await connect();
  // Listen for both before sending: ws may emit the pong and the message in one tick.
  const pongP = once(ws, 'pong');
  const msgP = nextMessage(ws);
  ws.send('frag-one ', { fin: false });
  ws.ping('mid');
  ws.send('frag-two ', { fin: false });
  ws.send('😀 done', { fin: true });
  const [pong] = await pongP;
  assert.equal(pong.toString(), 'mid');
  const m = await msgP;
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString(), 'frag-one frag-two 😀 done');

  const parts = [randomBytes(70000), randomBytes(3), randomBytes(126)];
  ws.send(parts[0], { binary: true, fin: false });
  ws.send(parts[1], { binary: true, fin: false });
  ws.send(parts[2], { binary: true, fin: true });
  const mb = await nextMessage(ws);
  assert.equal(mb.isBinary, true);
  assert.ok(Buffer.compare(mb.data, Buffer.concat(parts)) === 0);
  ws.close(1000);
  await nextClose(ws);
});

test('close handshake started by the client', async () => {
  const ws = await connect();
  ws.close(4001, 'client says bye');
  const c = await nextClose(ws);
  assert.equal(c.code, 4001); // the server echoes the status code
  // The server application saw the client's code and reason.
  for (let i = 0; i < 50 && !server.stderr().includes('4001 client says bye'); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(server.stderr(), /connection closed: 4001 client says bye/);
});

test('close handshake started by the server', async () => {
  const ws = await connect();
  ws.send('close 4002 server says bye');
  const c = await nextClose(ws);
  assert.equal(c.code, 4002);
  assert.equal(c.reason, 'server says bye');
});

test('a message over the limit closes with 1009', async () => {
  const ws = await connect();
  ws.on('error', () => {}); // the server may stop reading mid-message
  ws.send(randomBytes(2 * LIMIT));
  const c = await nextClose(ws);
  assert.equal(c.code, 1009);

  // Also when the limit is only crossed by the sum of fragments.
  const ws2 = await connect();
  ws2.on('error', () => {});
  ws2.send(randomBytes(LIMIT / 2 + 1), { fin: false });
  ws2.send(randomBytes(LIMIT / 2 + 1), { fin: true });
  assert.equal((await nextClose(ws2)).code, 1009);
});

test('a plain GET on the WebSocket route gets 426', async () => {
  const res = await fetch(`http://127.0.0.1:${server.port}/ws`);
  assert.equal(res.status, 426);
  assert.equal(res.headers.get('upgrade')?.toLowerCase(), 'websocket');
  const body = await res.json();
  assert.equal(typeof body.error?.message, 'string');
});

test('SIGTERM closes open connections with 1001 and exits 0', async () => {
  const own = await startServer();
  const ws = await connect(own);
  ws.send('still here');
  assert.equal((await nextMessage(ws)).data.toString(), 'still here');
  const closed = nextClose(ws);
  own.proc.kill('SIGTERM');
  const c = await closed;
  assert.equal(c.code, 1001);
  const [code] = own.proc.exitCode === null ? await once(own.proc, 'exit') : [own.proc.exitCode];
  assert.equal(code, 0);
});
