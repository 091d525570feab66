"""`transfer-gui serve RUN`: the run's model behind a local HTTP API until Ctrl+C."""

from __future__ import annotations

import argparse
import json
import sys

from .exits import EXIT_OK
from .options import add_run_setting


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    from ..serve import DEFAULT_HOST, DEFAULT_PORT, MAX_BATCH, MAX_BODY, WAIT_S

    p = sub.add_parser(
        "serve", help="serve a run's model over HTTP (POST /predict)",
        description="Answer POST /predict (multipart field 'image', or JSON with base64 "
                    "images) with the run's predictions; GET /model, GET /health; the API's "
                    "documentation at /docs. Needs the serve extra.")
    p.add_argument("run")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help="address to listen on (default %(default)s: this machine only; any "
                        "other needs --token or --no-auth)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="port (default %(default)s; 0: any free port)")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on /predict and "
                                   "/model")
    p.add_argument("--no-auth", action="store_true",
                   help="listen beyond this machine without a token")
    p.add_argument("--max-batch", type=int, default=MAX_BATCH, metavar="N",
                   help="images gathered from concurrent requests into one forward pass "
                        "(default %(default)s)")
    p.add_argument("--wait-ms", type=float, default=WAIT_S * 1000, metavar="MS",
                   help="how long the first request waits for others to join its batch "
                        "(default %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=MAX_BODY / 2**20, metavar="MB",
                   help="largest request body (default %(default)s)")
    add_run_setting(p, "device")
    p.add_argument("--json", action="store_true",
                   help="print the address as one JSON line before serving")


def cmd_serve(args: argparse.Namespace) -> int:
    from ..serve import require_serve

    require_serve()
    from ..serve.server import Server
    from ..serve.service import Service

    service = Service.from_run(args.run, args.device, args.max_batch, args.wait_ms / 1000)
    try:
        server = Server(service, args.host, args.port, args.token, args.no_auth,
                        int(args.max_upload_mb * 2**20))
    except Exception:
        service.close()
        raise
    if args.json:
        print(json.dumps({"url": server.url, "docs": f"{server.url}/docs"}), flush=True)
    else:
        print(f"serving {args.run} on {server.url} (API documentation: {server.url}/docs)",
              flush=True)
        print(f"  try: {server.curl_example()}", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down: the way to stop
        pass
    served = server.stats()
    print(f"stopped: {served['served']} requests answered, {served['failed']} refused",
          file=sys.stderr)
    return EXIT_OK
