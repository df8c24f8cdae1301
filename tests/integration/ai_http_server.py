#!/usr/bin/env python3
"""A small HTTP file server for the .ai backend tests (ai_backends.sh).

Serves ROOT over HTTP/1.1 with single-range Range support (bytes=N-, bytes=N-M, bytes=-N), HEAD,
and PUT (writes the body below ROOT), so one server plays a Hugging Face-layout mirror
(ROOT/ORG/NAME/resolve/REV/FILE), an IPFS gateway (ROOT/ipfs/CID) and a plain URL. For the
resume tests it can misbehave on purpose:

  --cut-after N      the first GET of each path (without Range) announces the full length but
                     closes the connection after N bytes of body
  paths under /norange/ ignore Range and always answer 200 with the whole file

Every request is appended to --log as "METHOD PATH RANGE STATUS". The chosen port is written to
--port-file once the server listens.
"""
import argparse
import http.server
import os
import re
import socketserver
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; we keep our own log
        pass

    def _log(self, status):
        with self.server.lock:
            with open(self.server.logfile, "a") as f:
                f.write("%s %s %s %d\n" % (self.command, self.path, self.headers.get("Range", "-"), status))

    def _local(self):
        path = self.path.split("?", 1)[0]
        if ".." in path.split("/"):
            return None
        return os.path.join(self.server.root, path.lstrip("/"))

    def _reply_error(self, status, msg):
        body = (msg + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(status)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        local = self._local()
        if local is None or not os.path.isfile(local):
            return self._reply_error(404, "not found")
        size = os.path.getsize(local)
        rng = self.headers.get("Range")
        honour = not self.path.startswith("/norange/")
        start, end, status = 0, size - 1, 200
        if rng and honour:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                return self._reply_error(400, "bad range")
            if m.group(1) == "":
                start, end = max(0, size - int(m.group(2))), size - 1
            else:
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self._log(416)
            end = min(end, size - 1)
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes" if honour else "none")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        self._log(status)
        if self.command == "HEAD":
            return
        cut = None
        with self.server.lock:
            if self.server.cut_after is not None and not rng and self.path not in self.server.cut_done:
                self.server.cut_done.add(self.path)
                cut = self.server.cut_after
        with open(local, "rb") as f:
            f.seek(start)
            left = end - start + 1
            sent = 0
            while left > 0:
                chunk = f.read(min(65536, left))
                if not chunk:
                    break
                if cut is not None and sent + len(chunk) > cut:
                    self.wfile.write(chunk[: cut - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
                left -= len(chunk)

    def do_PUT(self):
        local = self._local()
        if local is None:
            return self._reply_error(400, "bad path")
        n = int(self.headers.get("Content-Length", "0"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local + ".upload", "wb") as f:
            left = n
            while left > 0:
                chunk = self.rfile.read(min(65536, left))
                if not chunk:
                    break
                f.write(chunk)
                left -= len(chunk)
        if left:
            os.unlink(local + ".upload")
            return self._reply_error(400, "short body")
        os.replace(local + ".upload", local)
        self._reply_error(201, "stored")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cut-after", type=int)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.root = a.root
    srv.logfile = a.log
    srv.cut_after = a.cut_after
    srv.cut_done = set()
    srv.lock = threading.Lock()
    open(a.log, "w").close()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
