#!/usr/bin/env python3
"""OTLP receiver for trace-log's tests: log records, and the spans of the same process.

Listens on 127.0.0.1 (ports chosen by the OS) for OTLP/gRPC (logs and traces services)
and OTLP/HTTP (`POST /v1/logs`, `POST /v1/traces`, protobuf or JSON, optionally gzip) and
writes each export request as one JSON line to `--out`:

    {"signal": "logs" | "traces", "transport": "grpc" | "http", "path": "/v1/logs",
     "headers": {...lowercase names...}, "request": {...the request as JSON...}}

with `traceId` / `spanId` as lowercase hex (as in OTLP/JSON). Decoding is done by oteltest
(PyPI `oteltest`, the venv that `cargo xtask test` provisions for the `otlp-sink` service):
its gRPC servicers and `HttpSink` request parsing, on top of the official
`opentelemetry-proto` definitions; nothing here decodes protobuf by hand.

Prints `READY grpc=PORT http=PORT` once listening; exits when standard input closes.
"""

import argparse
import base64
import gzip
import json
import logging
import os
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc  # type: ignore
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc  # type: ignore
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc  # type: ignore
from oteltest.sink import HttpSink
from oteltest.sink.handler import RequestHandler
from oteltest.sink.private import _LogsServiceServicer, _TraceServiceServicer


# One lock for both transports: they append to the same file.
LOCK = threading.Lock()


def hex_ids(obj):
    if isinstance(obj, dict):
        return {
            key: base64.b64decode(value).hex()
            if key in ("traceId", "spanId", "parentSpanId")
            else hex_ids(value)
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [hex_ids(item) for item in obj]
    return obj


class Writer(RequestHandler):
    """oteltest request handler: every logs or traces request becomes one JSON line."""

    def __init__(self, path, transport):
        self.path = path
        self.transport = transport

    def write(self, signal, request, headers):
        line = json.dumps(
            {
                "signal": signal,
                "transport": self.transport,
                "path": {"logs": "/v1/logs", "traces": "/v1/traces"}[signal],
                "headers": {k.lower(): v for k, v in (headers or {}).items()},
                "request": hex_ids(MessageToDict(request)),
            }
        )
        with LOCK, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def handle_logs(self, request, headers):
        self.write("logs", request, headers)

    def handle_trace(self, request, headers):
        self.write("traces", request, headers)

    def handle_metrics(self, request, headers):
        pass


def start_http(writer):
    """oteltest's HttpSink parsing behind a loopback server that inflates gzip bodies."""
    sink = HttpSink(writer, logging.getLogger("otlp_logs_sink"), port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            headers = dict(self.headers.items())
            # oteltest looks up "Content-Type" case-sensitively.
            headers["Content-Type"] = self.headers.get("Content-Type", "")
            handle = sink.handlers.get(self.path)
            status, reply = (404, b"unknown OTLP path") if handle is None else (200, b"")
            if handle is not None:
                try:
                    handle(body, headers)
                except Exception as e:  # noqa: BLE001
                    status, reply = 400, str(e).encode()
            content_type = self.headers.get("Content-Type", "application/x-protobuf")
            if status == 200 and "json" in content_type:
                reply = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", content_type if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    grpc_writer = Writer(args.out, "grpc")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
        _LogsServiceServicer(grpc_writer.handle_logs), server
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        _TraceServiceServicer(grpc_writer.handle_trace), server
    )
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    http_port = start_http(Writer(args.out, "http"))
    print(f"READY grpc={grpc_port} http={http_port}", flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()
