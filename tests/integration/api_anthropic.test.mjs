// The node's Anthropic-style POST /v1/messages with the official `@anthropic-ai/sdk` as the
// client, unchanged (it sends the node's key as x-api-key), against the built-in tiny local chat
// model. The Messages API runs through the same gateway as /v1/chat/completions, so with
// temperature 0 both APIs must give the same text for the same conversation; streamed, the
// events must follow Anthropic's order and add up to the final message.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startNode } from './mock/node.mjs';

const CHAT = 'hanzo-tiny-chat';
const SYSTEM = 'You are terse.';
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];

describe('/v1/messages with the Anthropic SDK', () => {
  let node, client;
  before(async () => {
    node = await startNode({ name: 'api-anthropic' });
    client = new Anthropic({ baseURL: node.url, apiKey: node.key, maxRetries: 0 });
  });
  after(async () => { await node?.stop(); });

  // The same conversation through /v1/chat/completions.
  async function chatText(maxTokens) {
    const r = await node.api('POST', '/v1/chat/completions', {
      model: CHAT, max_tokens: maxTokens, temperature: 0,
      messages: [{ role: 'system', content: SYSTEM }, ...MESSAGES],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.choices[0].message.content;
  }

  test('non-stream: a message with usage and stop_reason max_tokens', async () => {
    const m = await client.messages.create({ model: CHAT, max_tokens: 6, temperature: 0, system: SYSTEM, messages: MESSAGES });
    assert.match(m.id, /^msg_/);
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, CHAT);
    assert.equal(m.content.length, 1);
    assert.equal(m.content[0].type, 'text');
    assert.ok(m.content[0].text.length > 0);
    assert.equal(m.stop_reason, 'max_tokens');
    assert.equal(m.usage.output_tokens, 6);
    const prompt = m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
    assert.ok(prompt > 6, `the templated prompt has more than 6 tokens: ${JSON.stringify(m.usage)}`);
    assert.equal(m.content[0].text, await chatText(6), 'the same text as /v1/chat/completions');
  });

  test('stream: messages.stream() text events add up to finalMessage()', async () => {
    const plain = await client.messages.create({ model: CHAT, max_tokens: 10, temperature: 0, system: SYSTEM, messages: MESSAGES });
    const stream = client.messages.stream({ model: CHAT, max_tokens: 10, temperature: 0, system: SYSTEM, messages: MESSAGES });
    let streamed = '';
    stream.on('text', (t) => { streamed += t; });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.usage.output_tokens, 10);
    assert.equal(final.content[0].text, streamed);
    assert.equal(streamed, plain.content[0].text);
  });

  test('stream: raw events in Anthropic order', async () => {
    const events = [];
    const stream = await client.messages.create({ model: CHAT, max_tokens: 5, temperature: 0, messages: MESSAGES, stream: true });
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'message_start');
    assert.equal(events[0].message.role, 'assistant');
    assert.equal(events[0].message.model, CHAT);
    assert.equal(types[1], 'content_block_start');
    assert.deepEqual(events[1].content_block, { type: 'text', text: '' });
    assert.equal(types.at(-1), 'message_stop');
    assert.equal(types.at(-2), 'message_delta');
    assert.equal(types.at(-3), 'content_block_stop');
    const deltas = events.filter((e) => e.type === 'content_block_delta');
    assert.ok(deltas.length >= 1 && deltas.every((d) => d.index === 0 && d.delta.type === 'text_delta'));
    const md = events.at(-2);
    assert.equal(md.delta.stop_reason, 'max_tokens');
    assert.equal(md.usage.output_tokens, 5);
  });

  test('stop_sequences cut the answer before the sequence', async () => {
    const full = (await client.messages.create({ model: CHAT, max_tokens: 20, temperature: 0, messages: MESSAGES })).content[0].text;
    const stop = full.slice(3, 6);
    assert.ok(stop.length === 3 && full.indexOf(stop) >= 1, JSON.stringify(full));
    const cut = await client.messages.create({ model: CHAT, max_tokens: 20, temperature: 0, messages: MESSAGES, stop_sequences: [stop] });
    assert.ok(['end_turn', 'stop_sequence'].includes(cut.stop_reason), cut.stop_reason);
    const got = cut.content.map((b) => b.text).join('');
    assert.equal(got, full.slice(0, full.indexOf(stop)));
  });

  test('errors: Anthropic shape and statuses', async () => {
    await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: MESSAGES }), (e) => {
      assert.ok(e instanceof Anthropic.NotFoundError, String(e));
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'not_found_error');
      assert.match(e.error.error.message, /no-such-model/);
      return true;
    });
    await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: MESSAGES, stream: true }),
      (e) => e instanceof Anthropic.NotFoundError, 'a stream that fails before output is an ordinary error');
    await assert.rejects(client.messages.create({ model: CHAT, messages: MESSAGES }), (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.equal(e.error.error.type, 'invalid_request_error');
      assert.match(e.error.error.message, /max_tokens/);
      return true;
    });
    await assert.rejects(client.messages.create({ model: CHAT, max_tokens: 5, temperature: 5, messages: MESSAGES }),
      (e) => e instanceof Anthropic.BadRequestError && /temperature/.test(e.error.error.message));
    const tools = [{ name: 'get_time', description: 'the time', input_schema: { type: 'object', properties: {} } }];
    await assert.rejects(client.messages.create({ model: CHAT, max_tokens: 5, messages: MESSAGES, tools }),
      (e) => e instanceof Anthropic.BadRequestError && /tool/.test(e.error.error.message));
    const wrong = new Anthropic({ baseURL: node.url, apiKey: 'wrong-key', maxRetries: 0 });
    await assert.rejects(wrong.messages.create({ model: CHAT, max_tokens: 5, messages: MESSAGES }),
      (e) => e instanceof Anthropic.AuthenticationError && e.status === 401);
  });

  test('the calls are in the usage accounts', async () => {
    const u = await node.api('GET', '/v2/usage?group_by=model');
    assert.equal(u.status, 200, JSON.stringify(u.body));
    const g = u.body.groups.find((x) => x.key === CHAT);
    assert.ok(g && g.requests >= 5 && g.completion_tokens > 0, JSON.stringify(u.body));
  });
});
