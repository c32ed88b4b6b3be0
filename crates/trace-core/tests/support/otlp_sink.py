#!/usr/bin/env python3
"""OTLP trace receiver for the trace-rs test suites.

Receives OTLP/gRPC and/or OTLP/HTTP (protobuf or JSON) export requests on loopback and writes
each `ExportTraceServiceRequest` as one JSON line to `--out`. Decoding is done by oteltest
(PyPI `oteltest==0.49.0`): its gRPC servicers and `HttpSink` request parsing, on top of the
official `opentelemetry-proto` definitions. Nothing here decodes protobuf by hand.

What this script adds to oteltest:
- binds 127.0.0.1 only (oteltest binds all interfaces) and accepts port 0 (the OS picks);
- the HTTP side inflates `Content-Encoding: gzip`/`deflate` and reads chunked bodies
  (oteltest needs Content-Length and does not inflate), and answers with a real
  `ExportTraceServiceResponse` in the request's content type;
- `traceId` / `spanId` / `parentSpanId` (and link ids) are converted from the base64 that
  `MessageToDict` produces to lowercase hex, as in OTLP/JSON; incoming OTLP/JSON requests carry
  hex ids (not the base64 of the protobuf JSON mapping that oteltest's parser expects), so they
  are converted to base64 before parsing, and a non-hex id is reported as an error;
- each line also carries `"_sink": {"protocol", "headers"}`, and a request that cannot be
  decoded is written as `{"_sink": {..., "error": "..."}}` so tests fail with the reason;
- collector faults for the export pipeline's tests: `--delay-ms` answers every trace request
  that much later (a slow collector), `--unavailable-first N` answers the first N OTLP/HTTP
  trace requests with `503` and `Retry-After: --retry-after` seconds, and the first N gRPC
  ones with UNAVAILABLE, without decoding them (written as `{"_sink": {..., "status": 503}}`
  on either side).

Prints `READY grpc=PORT http=PORT` (only the started sides) on stdout once listening.
Run by `tests/support/mod.rs`; needs the venv that `cargo xtask test` provisions.
"""

import argparse
import base64
import gzip
import json
import logging
import os
import sys
import threading
import time
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc  # type: ignore
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc  # type: ignore
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc  # type: ignore
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc  # type: ignore
from oteltest.sink import HttpSink
from oteltest.sink.handler import RequestHandler
from oteltest.sink.private import (
    _LogsServiceServicer,
    _MetricsServiceServicer,
    _TraceServiceServicer,
)

ID_FIELDS = ("traceId", "spanId", "parentSpanId")
SNAKE_IDS = ("trace_id", "span_id", "parent_span_id")


def b64_to_hex(value):
    return base64.b64decode(value).hex()


def hex_to_b64(value):
    if not isinstance(value, str):
        raise ValueError(f"span/trace id must be a hex string, got {value!r}")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"span/trace id is not hex as OTLP/JSON requires: {value!r}") from None
    return base64.b64encode(raw).decode()


def convert_ids(obj, convert):
    """Rewrites the ids of every span and link of a request dict with `convert`."""
    for resource_spans in obj.get("resourceSpans", obj.get("resource_spans", [])):
        for scope_spans in resource_spans.get("scopeSpans", resource_spans.get("scope_spans", [])):
            for span in scope_spans.get("spans", []):
                for item in [span, *span.get("links", [])]:
                    for field in ID_FIELDS + SNAKE_IDS:
                        if field in item:
                            item[field] = convert(item[field])
    return obj


def otlp_json_to_proto_json(body):
    """OTLP/JSON carries ids as hex, the protobuf JSON mapping as base64: convert for Parse."""
    return json.dumps(convert_ids(json.loads(body), hex_to_b64)).encode()


class JsonLinesWriter:
    """Appends one JSON object per line to a file, flushing after each line."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, obj):
        line = json.dumps(obj, separators=(",", ":"), sort_keys=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()


class TraceLinesHandler(RequestHandler):
    """oteltest request handler: traces become JSON lines; metrics and logs are ignored."""

    def __init__(self, writer, protocol, delay_ms=0):
        self.writer = writer
        self.protocol = protocol
        self.delay = delay_ms / 1000.0

    def sink_info(self, headers):
        return {"protocol": self.protocol, "headers": {k.lower(): v for k, v in (headers or {}).items()}}

    def handle_trace(self, request, headers):
        if self.delay:
            time.sleep(self.delay)
        obj = convert_ids(MessageToDict(request), b64_to_hex)
        obj["_sink"] = self.sink_info(headers)
        self.writer.write(obj)

    def handle_error(self, error, headers):
        info = self.sink_info(headers)
        info["error"] = error
        self.writer.write({"_sink": info})

    def handle_unavailable(self, headers):
        """Records a trace request played away by `--unavailable-first`, not decoded."""
        info = self.sink_info(headers)
        info["status"] = 503
        self.writer.write({"_sink": info})

    def handle_metrics(self, request, headers):
        pass

    def handle_logs(self, request, headers):
        pass


class UnavailableFirst:
    """Answers whether a trace request is one of the first N, which a fault plays away."""

    def __init__(self, count):
        self.left = count
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


class FlakyTraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    """oteltest's trace servicer behind `--unavailable-first`: UNAVAILABLE, not decoded."""

    def __init__(self, handler, unavailable):
        self.inner = _TraceServiceServicer(handler.handle_trace)
        self.handler = handler
        self.unavailable = unavailable

    def Export(self, request, context):  # noqa: N802
        if self.unavailable.take():
            self.handler.handle_unavailable(dict(context.invocation_metadata()))
            context.abort(grpc.StatusCode.UNAVAILABLE, "unavailable")
        return self.inner.Export(request, context)


def start_grpc(handler, port, unavailable_first=0):
    """oteltest's servicers on a gRPC server bound to loopback (gzip is handled by grpcio)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        FlakyTraceServicer(handler, UnavailableFirst(unavailable_first)), server
    )
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
        _MetricsServiceServicer(handler.handle_metrics), server
    )
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
        _LogsServiceServicer(handler.handle_logs), server
    )
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if not bound:
        raise OSError(f"gRPC sink could not bind 127.0.0.1:{port}")
    server.start()
    return server, bound


class LoopbackHttpSink(HttpSink):
    """oteltest's HttpSink bound to loopback, with gzip/deflate and chunked request bodies."""

    def __init__(self, handler, logger, port, unavailable_first=0, retry_after=1):
        super().__init__(handler, logger, port=port, daemon=True)
        self.handler = handler
        self.unavailable = UnavailableFirst(unavailable_first)
        self.retry_after = retry_after

    def start(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.make_request_handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.svr_thread.start()

    def run_server(self):
        self.httpd.serve_forever()

    def make_request_handler(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002
                pass

            def read_body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(body)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def reply(self, status, content_type, body, extra=()):
                self.send_response(status)
                for name, value in extra:
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                headers = dict(self.headers.items())
                # oteltest looks up "Content-Type" case-sensitively; clients may send it lowercase.
                headers["Content-Type"] = self.headers.get("Content-Type", "")
                body = self.read_body()
                handle = sink.handlers.get(self.path)
                if self.path == "/v1/traces" and sink.unavailable.take():
                    sink.handler.handle_unavailable(headers)
                    retry_after = [("Retry-After", str(sink.retry_after))]
                    self.reply(503, "text/plain", b"unavailable", retry_after)
                    return
                if handle is None:
                    self.reply(404, "text/plain", b"unknown OTLP path")
                    return
                is_json = "application/json" in headers.get("Content-Type", "").lower()
                try:
                    encoding = self.headers.get("Content-Encoding", "identity").lower()
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    elif encoding not in ("identity", ""):
                        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
                    if is_json and self.path == "/v1/traces":
                        body = otlp_json_to_proto_json(body)
                    # oteltest's HttpSink.handle_* parse protobuf or JSON by content type.
                    handle(body, headers)
                except Exception as e:  # noqa: BLE001
                    if self.path == "/v1/traces":
                        sink.handler.handle_error(f"{type(e).__name__}: {e}", headers)
                    self.reply(400, "text/plain", str(e).encode())
                    return
                response = trace_service_pb2.ExportTraceServiceResponse()
                if is_json:
                    self.reply(200, "application/json", b"{}")
                else:
                    self.reply(200, "application/x-protobuf", response.SerializeToString())

        return Handler


def exit_on_stdin_eof():
    """Ends the process when the parent (a test) goes away and its pipe closes."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grpc-port", type=int, help="OTLP/gRPC port on 127.0.0.1 (0: any free)")
    parser.add_argument("--http-port", type=int, help="OTLP/HTTP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--out", required=True, help="file to append one JSON line per request to")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="exit when standard input is closed"
    )
    parser.add_argument("--delay-ms", type=int, default=0, help="answer trace requests this late")
    parser.add_argument(
        "--unavailable-first", type=int, default=0, help="answer the first N trace requests 503 (HTTP) or UNAVAILABLE (gRPC)"
    )
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After of those 503s")
    args = parser.parse_args()
    if args.grpc_port is None and args.http_port is None:
        parser.error("give --grpc-port and/or --http-port")

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logger = logging.getLogger("otlp_sink")
    writer = JsonLinesWriter(args.out)
    ready = ["READY"]
    if args.grpc_port is not None:
        handler = TraceLinesHandler(writer, "grpc", args.delay_ms)
        _server, port = start_grpc(handler, args.grpc_port, args.unavailable_first)
        ready.append(f"grpc={port}")
    if args.http_port is not None:
        handler = TraceLinesHandler(writer, "http", args.delay_ms)
        http = LoopbackHttpSink(
            handler, logger, args.http_port, args.unavailable_first, args.retry_after
        )
        http.start()
        ready.append(f"http={http.port}")
    print(" ".join(ready), flush=True)

    if args.exit_on_stdin_eof:
        exit_on_stdin_eof()
    threading.Event().wait()


if __name__ == "__main__":
    main()
