// What the gateway must send upstream, per wire: the requests the provider tests make (a chat
// with a system prompt, limits, tools, a tool-result turn) and, for each, the request an
// upstream of that wire must have received. Kept apart from the tests so the expectations can
// be read as one table of translations: OpenAI fields on the left, each wire's names here.
import assert from 'node:assert/strict';

export const ECHO = 'echo: hello there world';
export const BASIC = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there world' }];
export const BASIC_USAGE = { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 };
export const PARAMS = { type: 'object', properties: { location: { type: 'string' }, days: { type: 'integer' } }, required: ['location'] };
export const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a place', parameters: PARAMS } }];
export const ARGS = { location: 'Paris', days: 42 };
export const TOOLS2 = [...TOOLS, { type: 'function', function: { name: 'get_time', description: 'Local time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } }];


const textOfBlocks = (c) => (typeof c === 'string' ? c : (c ?? []).filter((b) => b.type === 'text').map((b) => b.text).join(''));

// The upstream request for a BASIC chat (temperature 0.5), as each wire must carry it.
export function checkBasicRequest(wire, w, rec, stream) {
  const b = rec.body;
  switch (wire) {
    case 'openai': case 'compat':
      assert.equal(rec.path, '/v1/chat/completions');
      assert.equal(rec.headers.authorization, `Bearer ${w.key}`);
      assert.equal(b.model, w.model);
      assert.deepEqual(b.messages, BASIC);
      assert.equal(b.temperature, 0.5);
      assert.equal(b.stream === true, stream);
      if (stream) assert.equal(b.stream_options?.include_usage, true, 'streams ask the upstream for usage (accounting needs it)');
      break;
    case 'anthropic':
      assert.equal(rec.path, '/v1/messages');
      assert.ok(rec.headers['x-api-key'] === w.key || rec.headers.authorization === `Bearer ${w.key}`, 'the key as x-api-key (or Bearer)');
      assert.ok(rec.headers['anthropic-version'], 'anthropic-version header');
      assert.equal(b.model, w.model);
      assert.equal(textOfBlocks(b.system), 'be brief');
      assert.equal(b.messages.length, 1);
      assert.equal(b.messages[0].role, 'user');
      assert.equal(textOfBlocks(b.messages[0].content), 'hello there world');
      assert.ok(Number.isInteger(b.max_tokens) && b.max_tokens > 0, 'max_tokens supplied although the client sent none');
      assert.equal(b.temperature, 0.5);
      assert.equal(b.stream === true, stream);
      break;
    case 'gemini': {
      assert.equal(rec.path, `/v1beta/models/${w.model}:${stream ? 'streamGenerateContent' : 'generateContent'}`);
      if (stream) assert.equal(rec.query.alt, 'sse');
      assert.equal(rec.headers['x-goog-api-key'], w.key, 'the key goes in x-goog-api-key, not the URL');
      assert.equal(rec.query.key, undefined);
      const si = b.systemInstruction ?? b.system_instruction;
      assert.equal(si.parts.map((p) => p.text).join(''), 'be brief');
      assert.deepEqual(b.contents, [{ role: 'user', parts: [{ text: 'hello there world' }] }]);
      assert.equal((b.generationConfig ?? b.generation_config).temperature, 0.5);
      break;
    }
    case 'ollama':
      assert.equal(rec.path, '/api/chat');
      assert.match(b.model, /^llama3\.2(:latest)?$/);
      assert.deepEqual(b.messages.map((m) => ({ role: m.role, content: m.content })), BASIC);
      assert.equal(b.stream, stream, 'stream is sent explicitly (Ollama streams when it is absent)');
      assert.equal(b.options?.temperature, 0.5);
      break;
    default: throw new Error(wire);
  }
}

// max_tokens 2 and stop ["zzz"] as each wire names them.
export function checkLimitsRequest(wire, rec) {
  const b = rec.body;
  switch (wire) {
    case 'openai': case 'compat':
      assert.equal(b.max_tokens ?? b.max_completion_tokens, 2);
      assert.deepEqual(b.stop, ['zzz']);
      break;
    case 'anthropic':
      assert.equal(b.max_tokens, 2);
      assert.deepEqual(b.stop_sequences, ['zzz']);
      break;
    case 'gemini': {
      const gc = b.generationConfig ?? b.generation_config;
      assert.equal(gc.maxOutputTokens ?? gc.max_output_tokens, 2);
      assert.deepEqual(gc.stopSequences ?? gc.stop_sequences, ['zzz']);
      break;
    }
    case 'ollama':
      assert.equal(b.options?.num_predict, 2);
      assert.deepEqual(b.options?.stop, ['zzz']);
      break;
    default: throw new Error(wire);
  }
}

// The tool definitions as the upstream got them.
export function checkToolsRequest(wire, rec) {
  const b = rec.body;
  switch (wire) {
    case 'openai': case 'compat': case 'ollama':
      assert.deepEqual(b.tools, TOOLS);
      break;
    case 'anthropic':
      assert.deepEqual(b.tools, [{ name: 'get_weather', description: 'Weather for a place', input_schema: PARAMS }]);
      break;
    case 'gemini': {
      const decl = (b.tools[0].functionDeclarations ?? b.tools[0].function_declarations)[0];
      assert.equal(decl.name, 'get_weather');
      assert.equal(decl.description, 'Weather for a place');
      assert.deepEqual(Object.keys(decl.parameters.properties), ['location', 'days']);
      break;
    }
    default: throw new Error(wire);
  }
}

// The second turn (assistant tool call + tool result) as the upstream got it.
export function checkToolTurnRequest(wire, rec, call) {
  const b = rec.body;
  switch (wire) {
    case 'openai': case 'compat':
      assert.equal(b.messages[1].tool_calls[0].id, call.id);
      assert.deepEqual(JSON.parse(b.messages[1].tool_calls[0].function.arguments), ARGS);
      assert.deepEqual({ role: b.messages[2].role, tool_call_id: b.messages[2].tool_call_id }, { role: 'tool', tool_call_id: call.id });
      break;
    case 'anthropic': {
      const use = b.messages[1].content.find((x) => x.type === 'tool_use');
      assert.deepEqual({ id: use.id, name: use.name, input: use.input }, { id: call.id, name: 'get_weather', input: ARGS });
      const result = b.messages[2].content.find((x) => x.type === 'tool_result');
      assert.equal(b.messages[2].role, 'user');
      assert.equal(result.tool_use_id, call.id);
      assert.equal(textOfBlocks(result.content), '{"temp":21}');
      break;
    }
    case 'gemini': {
      const fc = b.contents[1].parts.find((p) => p.functionCall ?? p.function_call);
      assert.equal(b.contents[1].role, 'model');
      assert.deepEqual(fc.functionCall ?? fc.function_call, { name: 'get_weather', args: ARGS });
      const fr = b.contents[2].parts.find((p) => p.functionResponse ?? p.function_response);
      const resp = fr.functionResponse ?? fr.function_response;
      assert.equal(resp.name, 'get_weather', 'the functionResponse names the function the tool_call_id belonged to');
      assert.ok(JSON.stringify(resp.response).includes('21'), `the tool output is carried: ${JSON.stringify(resp.response)}`);
      break;
    }
    case 'ollama':
      assert.deepEqual(b.messages[1].tool_calls[0].function, { name: 'get_weather', arguments: ARGS });
      assert.deepEqual({ role: b.messages[2].role, content: b.messages[2].content }, { role: 'tool', content: '{"temp":21}' });
      break;
    default: throw new Error(wire);
  }
}
