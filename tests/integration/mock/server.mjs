// The provider mocks in one place: startMock(wire, opts) for tests, and a command line for
// benchmarks and manual runs:
//
//   node tests/integration/mock/server.mjs WIRE [PORT] [--key KEY] [--models a,b] [--no-record]
//
// WIRE is openai, anthropic, gemini or ollama; PORT 0 (the default) picks a free one. It prints
// the port on the first line of stdout (then the base URL a provider config should use on the
// second), serves until SIGTERM/SIGINT, and answers GET /__mock/requests with what it
// received (--no-record keeps nothing, for long benchmark runs). Every start function
// resolves to {wire, port, url, baseUrl, requests, requestsTo, last, reset, close}; see
// common.mjs for the fault tokens a model name may carry.
import { startOpenAI } from './openai.mjs';
import { startAnthropic } from './anthropic.mjs';
import { startGemini } from './gemini.mjs';
import { startOllama } from './ollama.mjs';

export { startOpenAI, startAnthropic, startGemini, startOllama };
export { parsePlan, embed } from './common.mjs';

const STARTERS = { openai: startOpenAI, anthropic: startAnthropic, gemini: startGemini, ollama: startOllama };

export function startMock(wire, opts = {}) {
  const start = STARTERS[wire];
  if (!start) throw new Error(`unknown wire "${wire}" (openai, anthropic, gemini, ollama)`);
  return start(opts);
}

async function main(argv) {
  const args = argv.slice(2);
  const wire = args.shift();
  const opts = {};
  let port = 0;
  while (args.length) {
    const a = args.shift();
    if (a === '--key') opts.apiKey = args.shift();
    else if (a === '--no-record') opts.record = false;
    else if (a === '--models') opts.models = String(args.shift()).split(',').filter(Boolean);
    else if (/^\d+$/.test(a)) port = Number(a);
    else {
      process.stderr.write(`usage: server.mjs openai|anthropic|gemini|ollama [PORT] [--key KEY] [--models a,b] [--no-record]\n(unknown argument "${a}")\n`);
      process.exit(2);
    }
  }
  if (!STARTERS[wire]) {
    process.stderr.write('usage: server.mjs openai|anthropic|gemini|ollama [PORT] [--key KEY] [--models a,b] [--no-record]\n');
    process.exit(2);
  }
  opts.port = port;
  const mock = await startMock(wire, opts);
  process.stdout.write(`${mock.port}\n${mock.baseUrl}\n`);
  const stop = async () => { await mock.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv);
