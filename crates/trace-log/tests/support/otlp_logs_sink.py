#!/usr/bin/env python3
"""OTLP/gRPC log receiver for trace-log's tests.

Listens on 127.0.0.1 (port 0: the OS picks) and writes each `ExportLogsServiceRequest` as
one JSON line to `--out`, with `traceId` / `spanId` as lowercase hex (as in OTLP/JSON).
Decoding is done by oteltest's gRPC logs servicer (PyPI `oteltest`, the venv that
`cargo xtask test` provisions for the `otlp-sink` service) on top of the official
`opentelemetry-proto` definitions; nothing here decodes protobuf by hand.

Prints `READY grpc=PORT` once listening; exits when standard input closes.
"""

import argparse
import base64
import json
import os
import sys
import threading
from concurrent import futures

import grpc  # type: ignore
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc  # type: ignore
from oteltest.sink.private import _LogsServiceServicer


def hex_ids(obj):
    if isinstance(obj, dict):
        return {
            key: base64.b64decode(value).hex() if key in ("traceId", "spanId") else hex_ids(value)
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [hex_ids(item) for item in obj]
    return obj


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    lock = threading.Lock()

    def handle_logs(request, headers):
        line = json.dumps(hex_ids(MessageToDict(request)))
        with lock, open(args.out, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServiceServicer(handle_logs), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"READY grpc={port}", flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()
