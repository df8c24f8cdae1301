/*
 * Unit tests for the Anthropic Messages API served on the chat shape (src/gateway/messages.c).
 * Translations are checked against whole documents, so nothing is silently dropped or added.
 * The strongest checks are round trips through the Anthropic wire, which does the inverse
 * translation: a Messages request turned into a chat request and back into an upstream
 * Anthropic request must be the request we started from; an Anthropic answer turned into a
 * chat.completion and back must be the answer we started from; and Anthropic's documented
 * event stream, turned into chunks by the wire and into events again here, must give the same
 * content blocks, deltas and stop reason in the same order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/gw_internal.h"

static json_object *J(const char *s) {
    json_object *o = NULL;
    if (hz_json_parse(s, strlen(s), &o) != 0) fail_msg("bad JSON in test: %s: %s", hz_error_last(), s);
    return o;
}

static void check_json(json_object *got, const char *expect, const char *file, int line) {
    json_object *e = J(expect);
    if (!json_object_equal(got, e)) {
        print_error("%s:%d: JSON differs\n   got: %s\n", file, line, got ? hz_json_dump(got, NULL) : "NULL");
        print_error("expect: %s\n", hz_json_dump(e, NULL));
        json_object_put(e);
        fail();
    }
    json_object_put(e);
}
#define assert_json(got, expect) check_json((got), (expect), __FILE__, __LINE__)

static void to_chat_fails(const char *req, const char *param) {
    json_object *o = J(req), *chat = (json_object *)1;
    hz_gw_error_t err;
    int rc = hz_gw_messages_to_chat(o, &chat, &err);
    json_object_put(o);
    if (rc == 0) {
        json_object_put(chat);
        fail_msg("accepted: %s", req);
    }
    assert_int_equal(rc, HZ_EINVAL);
    assert_null(chat);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    if (strcmp(err.param, param) != 0) fail_msg("param \"%s\", expected \"%s\" (%s)", err.param, param, err.message);
}

/* ---- request ---------------------------------------------------------------------------- */

static void test_to_chat(void **state) {
    (void)state;
    json_object *req = J(
        "{\"model\":\"openai/gpt-4o-mini\",\"max_tokens\":1024,"
        "\"system\":[{\"type\":\"text\",\"text\":\"You are terse.\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"Metric units.\"}],"
        "\"messages\":["
        "{\"role\":\"user\",\"content\":\"What's the weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"need tool\",\"signature\":\"s\"},"
        "{\"type\":\"text\",\"text\":\"Let me check.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"get_time\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01\",\"content\":\"18C\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_02\",\"content\":[{\"type\":\"text\",\"text\":\"no\"},{\"type\":\"text\",\"text\":\"clock\"}],\"is_error\":true},"
        "{\"type\":\"text\",\"text\":\"And this?\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBOR\"}},"
        "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/a.png\"}}]}],"
        "\"stop_sequences\":[\"END\"],\"temperature\":0.5,\"top_p\":0.9,\"top_k\":5,\"stream\":true,"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Current weather\",\"input_schema\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]},\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"custom\",\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},"
        "\"metadata\":{\"user_id\":\"user-7\"},\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000}}");
    json_object *chat = NULL;
    hz_gw_error_t err;
    assert_int_equal(hz_gw_messages_to_chat(req, &chat, &err), 0);
    assert_json(chat,
        "{\"model\":\"openai/gpt-4o-mini\",\"max_tokens\":1024,\"messages\":["
        "{\"role\":\"system\",\"content\":\"You are terse.\\n\\nMetric units.\"},"
        "{\"role\":\"user\",\"content\":\"What's the weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":["
        "{\"id\":\"toolu_01\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"toolu_02\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01\",\"content\":\"18C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_02\",\"content\":\"Error: no\\nclock\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And this?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBOR\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}],"
        "\"stop\":[\"END\"],\"temperature\":0.5,\"top_p\":0.9,\"top_k\":5,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Current weather\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"user\":\"user-7\"}");
    json_object_put(chat);
    json_object_put(req);

    /* minimal: string system, tool_choice variants, an assistant turn with only a tool call */
    req = J("{\"model\":\"m\",\"max_tokens\":5,\"system\":\"S\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
            "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"a\":[1]}}]}],"
            "\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"},\"stream\":false,\"stop_sequences\":[]}");
    assert_int_equal(hz_gw_messages_to_chat(req, &chat, &err), 0);
    assert_json(chat, "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
                      "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"t\","
                      "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":[1]}\"}}]}],"
                      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}}");
    json_object_put(chat);
    json_object_put(req);
    static const struct { const char *in, *out; } choices[] = {
        {"{\"type\":\"auto\"}", "\"auto\""}, {"{\"type\":\"none\"}", "\"none\""}, {"{\"type\":\"any\"}", "\"required\""},
    };
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"tool_choice\":%s}", choices[i].in);
        req = J(buf);
        assert_int_equal(hz_gw_messages_to_chat(req, &chat, &err), 0);
        assert_json(json_object_object_get(chat, "tool_choice"), choices[i].out);
        json_object_put(chat);
        json_object_put(req);
    }
}

static void test_to_chat_errors(void **state) {
    (void)state;
    to_chat_fails("[]", "");
    to_chat_fails("{\"max_tokens\":1,\"messages\":[]}", "model");
    to_chat_fails("{\"model\":\"\",\"max_tokens\":1,\"messages\":[]}", "model");
    to_chat_fails("{\"model\":\"m\",\"messages\":[]}", "max_tokens");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":0,\"messages\":[]}", "max_tokens");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":\"9\",\"messages\":[]}", "max_tokens");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":{}}", "messages");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "messages[0].role");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\"}]}", "messages[0].content");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[3]}", "messages[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
                  "\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"x\"}}]}]}", "messages[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}", "messages[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
                  "{\"type\":\"file\",\"file_id\":\"f\"}}]}]}", "messages[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                  "\"tool_use_id\":\"t\",\"content\":[{\"type\":\"image\",\"source\":{}}]}]}]}", "messages[0].content[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}",
                  "messages[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
                  "\"id\":\"t\",\"name\":\"f\",\"input\":[]}]}]}", "messages[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"server_tool_use\"}]}]}",
                  "messages[0].content[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"system\":[{\"type\":\"image\"}]}", "system[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"system\":7}", "system");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]}",
                  "tools[0].type");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"tools\":[{\"name\":\"f\"}]}", "tools[0]");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"tool_choice\":{\"type\":\"sometimes\"}}", "tool_choice.type");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"tool_choice\":{\"type\":\"tool\"}}", "tool_choice.name");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"stop_sequences\":[\"a\",2]}", "stop_sequences");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"temperature\":\"warm\"}", "temperature");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"top_k\":1.5}", "top_k");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"stream\":\"yes\"}", "stream");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"metadata\":[]}", "metadata");
    to_chat_fails("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"mcp_servers\":[{\"type\":\"url\"}]}", "mcp_servers");
}

/* ---- response --------------------------------------------------------------------------- */

static void test_to_message(void **state) {
    (void)state;
    json_object *c = J("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"openai/gpt-4o-mini\","
                       "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
                       "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                       "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"broken\",\"arguments\":\"{oops\"}}]},"
                       "\"finish_reason\":\"tool_calls\"}],"
                       "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,\"total_tokens\":120,\"prompt_tokens_details\":{\"cached_tokens\":40}}}");
    json_object *m = hz_gw_chat_to_message(c);
    const char *id = json_object_get_string(json_object_object_get(m, "id"));
    assert_true(hz_str_starts_with(id, "msg_"));
    json_object_object_del(m, "id");
    assert_json(m, "{\"type\":\"message\",\"role\":\"assistant\",\"model\":\"openai/gpt-4o-mini\",\"content\":["
                   "{\"type\":\"text\",\"text\":\"Checking.\"},"
                   "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
                   "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"broken\",\"input\":{\"_raw\":\"{oops\"}}],"
                   "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
                   "\"usage\":{\"input_tokens\":60,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":40,\"output_tokens\":20}}");
    json_object_put(m);
    json_object_put(c);

    static const struct { const char *finish, *stop; } map[] = {
        {"stop", "end_turn"}, {"length", "max_tokens"}, {"tool_calls", "tool_use"}, {"content_filter", "refusal"},
        {"function_call", "tool_use"}, {"cancelled", "end_turn"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"%s\"}]}", map[i].finish);
        c = J(buf);
        m = hz_gw_chat_to_message(c);
        assert_string_equal(json_object_get_string(json_object_object_get(m, "stop_reason")), map[i].stop);
        assert_int_equal(json_object_array_length(json_object_object_get(m, "content")), 0);
        json_object_put(m);
        json_object_put(c);
    }
    /* nothing usable: still a well-formed, empty message */
    m = hz_gw_chat_to_message(NULL);
    json_object_object_del(m, "id");
    assert_json(m, "{\"type\":\"message\",\"role\":\"assistant\",\"model\":\"\",\"content\":[],\"stop_reason\":\"end_turn\","
                   "\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,"
                   "\"cache_read_input_tokens\":0,\"output_tokens\":0}}");
    json_object_put(m);
    /* content as parts, and a refusal */
    c = J("{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}]}");
    m = hz_gw_chat_to_message(c);
    assert_json(json_object_object_get(m, "content"), "[{\"type\":\"text\",\"text\":\"ab\"}]");
    json_object_put(m);
    json_object_put(c);
    c = J("{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't\"},\"finish_reason\":\"stop\"}]}");
    m = hz_gw_chat_to_message(c);
    assert_json(json_object_object_get(m, "content"), "[{\"type\":\"text\",\"text\":\"I can't\"}]");
    json_object_put(m);
    json_object_put(c);
}

/* ---- streams ---------------------------------------------------------------------------- */

typedef struct {
    json_object *events;    /* [[name, data], ...] */
    int stop_after;
} ev_rec_t;

static int on_event(const char *event, json_object *data, void *ud) {
    ev_rec_t *r = ud;
    /* the event name always matches the data's type, as Anthropic sends them */
    assert_string_equal(event, json_object_get_string(json_object_object_get(data, "type")));
    json_object *copy = NULL;
    assert_int_equal(json_object_deep_copy(data, &copy, NULL), 0);
    json_object_array_add(r->events, copy);
    return r->stop_after && (int)json_object_array_length(r->events) >= r->stop_after ? 5 : 0;
}

static int feed(hz_gw_msgstream_t *ms, const char *chunk) {
    json_object *c = J(chunk);
    int rc = hz_gw_msgstream_chunk(ms, c);
    json_object_put(c);
    return rc;
}

#define CH(delta, finish) "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" finish "}]}"

static void test_msgstream(void **state) {
    (void)state;
    ev_rec_t r = {json_object_new_array(), 0};
    hz_gw_msgstream_t *ms = hz_gw_msgstream_new("openai/gpt-4o-mini", on_event, &r);
    assert_int_equal(feed(ms, CH("{\"role\":\"assistant\",\"content\":\"\"}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"content\":\"Hel\"}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"content\":\"lo\"}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{}", "\"tool_calls\"")), 0);
    assert_int_equal(feed(ms, "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
                              "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":9,\"total_tokens\":39}}"), 0);
    assert_int_equal(hz_gw_msgstream_end(ms, NULL, NULL), 0);
    json_object *first = json_object_array_get_idx(r.events, 0);
    const char *id = json_object_get_string(json_object_object_get(json_object_object_get(first, "message"), "id"));
    assert_true(hz_str_starts_with(id, "msg_"));
    json_object_object_del(json_object_object_get(first, "message"), "id");
    assert_json(r.events,
        "[{\"type\":\"message_start\",\"message\":{\"type\":\"message\",\"role\":\"assistant\",\"model\":\"openai/gpt-4o-mini\","
        "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,"
        "\"cache_read_input_tokens\":0,\"output_tokens\":0}}},"
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}},"
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}},"
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}},"
        "{\"type\":\"content_block_stop\",\"index\":0},"
        "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"f\",\"input\":{}}},"
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}},"
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}},"
        "{\"type\":\"content_block_stop\",\"index\":1},"
        "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"g\",\"input\":{}}},"
        "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}},"
        "{\"type\":\"content_block_stop\",\"index\":2},"
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
        "\"usage\":{\"input_tokens\":30,\"cache_read_input_tokens\":0,\"output_tokens\":9}},"
        "{\"type\":\"message_stop\"}]");
    /* ended: no more chunks, no second end */
    assert_int_equal(feed(ms, CH("{\"content\":\"late\"}", "null")), HZ_ESTATE);
    assert_int_equal(hz_gw_msgstream_end(ms, NULL, NULL), HZ_ESTATE);
    hz_gw_msgstream_free(ms);
    json_object_put(r.events);

    /* no chunks at all: still a complete, valid sequence; explicit usage and finish win */
    r.events = json_object_new_array();
    ms = hz_gw_msgstream_new("m", on_event, &r);
    hz_gw_usage_t u = {12, 0, 2};
    assert_int_equal(hz_gw_msgstream_end(ms, &u, "length"), 0);
    assert_int_equal(json_object_array_length(r.events), 3);
    assert_json(json_object_array_get_idx(r.events, 1),
                "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},"
                "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":2,\"output_tokens\":0}}");
    hz_gw_msgstream_free(ms);
    json_object_put(r.events);

    /* text after a tool call opens a new text block; empty content adds nothing */
    r.events = json_object_new_array();
    ms = hz_gw_msgstream_new("m", on_event, &r);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"content\":\"\"}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"content\":\"x\"}", "null")), 0);
    assert_int_equal(hz_gw_msgstream_end(ms, NULL, "stop"), 0);
    static const char *const types[] = {"message_start", "content_block_start", "content_block_stop", "content_block_start",
                                        "content_block_delta", "content_block_stop", "message_delta", "message_stop"};
    assert_int_equal(json_object_array_length(r.events), 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(r.events, i), "type")), types[i]);
    hz_gw_msgstream_free(ms);
    json_object_put(r.events);

    /* interleaved tool arguments cannot become Anthropic blocks: an error, not garbage */
    r.events = json_object_new_array();
    ms = hz_gw_msgstream_new("m", on_event, &r);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{\"}}]}", "null")), 0);
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"}\"}}]}", "null")), HZ_EPARSE);
    assert_non_null(strstr(hz_error_last(), "interleave"));
    assert_int_equal(feed(ms, CH("{\"tool_calls\":[{\"index\":\"x\"}]}", "null")), HZ_EPARSE);
    json_object *bad = J("[1]");
    assert_int_equal(hz_gw_msgstream_chunk(ms, bad), HZ_EPARSE);
    json_object_put(bad);
    hz_gw_msgstream_free(ms);
    json_object_put(r.events);

    /* the callback's stop value comes back */
    r.events = json_object_new_array();
    r.stop_after = 2;
    ms = hz_gw_msgstream_new("m", on_event, &r);
    assert_int_equal(feed(ms, CH("{\"content\":\"x\"}", "null")), 5);
    hz_gw_msgstream_free(ms);
    json_object_put(r.events);
}

/* ---- round trips through the Anthropic wire ---------------------------------------------- */

static void test_roundtrip_request(void **state) {
    (void)state;
    /* in the form the wire writes: content as blocks, a string system */
    const char *orig =
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":300,\"system\":\"Be brief.\","
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBOR\"}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"type\":\"text\",\"text\":\"Thanks\"}]}],"
        "\"stop_sequences\":[\"END\"],\"temperature\":0.2,\"top_p\":0.9,\"top_k\":40,"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"W\",\"input_schema\":{\"type\":\"object\",\"properties\":"
        "{\"city\":{\"type\":\"string\"}}}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\",\"disable_parallel_tool_use\":true},"
        "\"metadata\":{\"user_id\":\"u\"},\"stream\":true}";
    json_object *req = J(orig), *chat = NULL;
    hz_gw_error_t err;
    assert_int_equal(hz_gw_messages_to_chat(req, &chat, &err), 0);
    gw_provider_t p;
    memset(&p, 0, sizeof p);
    p.base_url = "https://api.anthropic.com";
    p.api_key = "k";
    gw_http_req_t r;
    assert_int_equal(gw_wire_anthropic.chat_request(&p, chat, true, &r, &err), 0);
    json_object *back = J(r.body.data);
    assert_json(back, orig);
    json_object_put(back);
    gw_http_req_free(&r);
    json_object_put(chat);
    json_object_put(req);
}

static void test_roundtrip_response(void **state) {
    (void)state;
    const char *orig =
        "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"anthropic/claude\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Let me look.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
        "\"input\":{\"city\":\"Paris\",\"days\":[1,2]}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
        "\"usage\":{\"input_tokens\":50,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":20,\"output_tokens\":12}}";
    json_object *completion = NULL;
    hz_gw_error_t err;
    assert_int_equal(gw_wire_anthropic.chat_response(orig, strlen(orig), "anthropic/claude", &completion, &err), 0);
    json_object *m = hz_gw_chat_to_message(completion);
    json_object_object_add(m, "id", json_object_new_string("msg_01"));
    assert_json(m, orig);
    json_object_put(m);
    json_object_put(completion);
}

typedef struct {
    hz_gw_msgstream_t *ms;
    gw_stream_t *s;
    hz_gw_error_t err;
    int rc;
} relay_t;

static int relay_chunk(json_object *chunk, void *ud) {
    relay_t *r = ud;
    return hz_gw_msgstream_chunk(r->ms, chunk);
}

static int relay_event(const char *event, const char *data, size_t len, void *ud) {
    relay_t *r = ud;
    r->rc = gw_wire_anthropic.stream_event(r->s, event, data, len, NULL, relay_chunk, r, &r->err);
    return r->rc;
}

static int collect_sse_event(const char *event, const char *data, size_t len, void *ud) {
    json_object *o = NULL;
    (void)event;
    assert_int_equal(hz_json_parse(data, len, &o), 0);
    json_object_array_add(ud, o);
    return 0;
}

static void test_roundtrip_stream(void **state) {
    (void)state;
    static const char sse[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
        "\"model\":\"claude\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: ping\ndata: {\"type\":\"ping\"}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    /* upstream events -> chunks -> events */
    ev_rec_t rec = {json_object_new_array(), 0};
    relay_t relay;
    memset(&relay, 0, sizeof relay);
    relay.ms = hz_gw_msgstream_new("claude", on_event, &rec);
    relay.s = gw_wire_anthropic.stream_new("chatcmpl-x", 1, "claude");
    hz_gw_sse_t *p = hz_gw_sse_new(0, relay_event, &relay);
    assert_int_equal(hz_gw_sse_feed(p, sse, strlen(sse)), 1);
    hz_gw_sse_free(p);
    hz_gw_usage_t u;
    char finish[24];
    gw_wire_anthropic.stream_result(relay.s, &u, finish);
    assert_int_equal(hz_gw_msgstream_end(relay.ms, &u, finish), 0);

    /* the original events, minus ping */
    json_object *orig = json_object_new_array();
    p = hz_gw_sse_new(0, collect_sse_event, orig);
    assert_int_equal(hz_gw_sse_feed(p, sse, strlen(sse)), 0);
    assert_int_equal(hz_gw_sse_finish(p), 0);
    hz_gw_sse_free(p);
    json_object_array_del_idx(orig, 2, 1);

    assert_int_equal(json_object_array_length(rec.events), json_object_array_length(orig));
    for (size_t i = 0; i < json_object_array_length(orig); i++) {
        json_object *a = json_object_array_get_idx(rec.events, i), *b = json_object_array_get_idx(orig, i);
        const char *type = json_object_get_string(json_object_object_get(b, "type"));
        assert_string_equal(json_object_get_string(json_object_object_get(a, "type")), type);
        if (strcmp(type, "message_start") == 0) continue;      /* our own id; usage comes at the end */
        if (strcmp(type, "message_delta") == 0) {
            assert_json(json_object_object_get(a, "delta"), hz_json_dump(json_object_object_get(b, "delta"), NULL));
            assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(a, "usage"), "output_tokens")), 15);
            assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(a, "usage"), "input_tokens")), 25);
            continue;
        }
        if (!json_object_equal(a, b)) fail_msg("event %zu: %s vs %s", i, hz_json_dump(a, NULL), hz_json_dump(b, NULL));
    }
    json_object_put(orig);
    gw_wire_anthropic.stream_free(relay.s);
    hz_gw_msgstream_free(relay.ms);
    json_object_put(rec.events);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_chat),
        cmocka_unit_test(test_to_chat_errors),
        cmocka_unit_test(test_to_message),
        cmocka_unit_test(test_msgstream),
        cmocka_unit_test(test_roundtrip_request),
        cmocka_unit_test(test_roundtrip_response),
        cmocka_unit_test(test_roundtrip_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
