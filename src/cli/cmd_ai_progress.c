/*
 * Progress for long `hanzo ai` work. On a terminal one line on stderr is redrawn at most ten times
 * a second ("hash  1.2 GiB / 2.0 GiB  60%  850 MiB/s"); elsewhere (with --progress) a plain line
 * is printed every two seconds, so logs stay readable. Nothing goes to stdout, which carries the
 * result (and the JSON with --json).
 */
#include "cmd_ai.h"

#include <string.h>
#include <unistd.h>

static void render(cli_ai_progress_t *p, int64_t now) {
    char done[32], total[32], rate[32];
    cli_ai_human_size(p->done, done, sizeof(done));
    cli_ai_human_size(p->total, total, sizeof(total));
    double secs = (double)(now - p->start_ns) / 1e9;
    cli_ai_human_size(secs > 0.05 ? (uint64_t)((double)p->done / secs) : 0, rate, sizeof(rate));
    int pct = p->total ? (int)(100.0 * (double)p->done / (double)p->total) : 0;
    if (p->tty) {
        fprintf(stderr, "\r  %-8s %10s / %-10s %3d%%  %s/s   ", p->phase, done, total, pct, rate);
        p->open_line = true;
    } else {
        fprintf(stderr, "  %s %s / %s (%d%%, %s/s)\n", p->phase, done, total, pct, rate);
    }
    fflush(stderr);
}

bool cli_ai_progress(void *ctx, const char *phase, uint64_t done, uint64_t total) {
    cli_ai_progress_t *p = ctx;
    if (!p || !p->enabled) return true;
    int64_t now = hz_time_mono_ns();
    if (strcmp(p->phase, phase) != 0) {
        if (p->phase[0]) render(p, now); /* close the previous phase at its last value */
        if (p->open_line) { fputc('\n', stderr); p->open_line = false; }
        snprintf(p->phase, sizeof(p->phase), "%s", phase);
        p->start_ns = now;
        p->last_ns = 0;
    }
    p->done = done;
    p->total = total;
    int64_t every = p->tty ? 100000000 : 2000000000;
    if (now - p->last_ns >= every || (total && done == total && p->tty)) {
        p->last_ns = now;
        render(p, now);
    }
    return true;
}

void cli_ai_progress_done(cli_ai_progress_t *p) {
    if (!p->enabled || !p->phase[0]) return;
    if (!p->tty) render(p, hz_time_mono_ns());
    if (p->open_line) fputc('\n', stderr);
    p->open_line = false;
    p->phase[0] = '\0';
}
