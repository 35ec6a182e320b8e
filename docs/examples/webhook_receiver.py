#!/usr/bin/env python3
"""Receive the portal's webhooks, verify them, and sync when a job is completed.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... PORTAL_API=... PORTAL_TOKEN=pgt_... \
        python3 webhook_receiver.py --port 8090 jobs.sqlite3

Every request is verified with the endpoint's secret (the Standard Webhooks scheme: the
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers, timestamps at most five
minutes old); anything else is answered 400 and ignored. A delivery may arrive more than once
(a retry after a lost answer, a redelivery): its `webhook-id` is the same, so it is handled
once. Payloads carry only global ids; the receiver fetches what it needs through the feed,
with its own token, so it never learns more than its own scope. Each verified event is also
appended, one JSON line, to DATABASE.events.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from partner_sync import sync
from standardwebhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()  # one sync at a time


def handler_for(database: str, webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    events = Path(database + ".events.jsonl")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("content-length") or 0), 65536))
            try:
                event = webhook.verify(body, dict(self.headers.items()))
            except WebhookVerificationError:
                self.send_response(400)
                self.end_headers()
                return
            with LOCK:
                if first_time(database, self.headers["webhook-id"]):
                    with events.open("a") as log:
                        log.write(json.dumps(event) + "\n")
                    if event["type"] in ("job.completed", "job.updated"):
                        sync(database, os.environ["PORTAL_API"], os.environ["PORTAL_TOKEN"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def first_time(database: str, webhook_id: str) -> bool:
    db = sqlite3.connect(database)
    try:
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS seen_webhooks (id TEXT PRIMARY KEY)")
            inserted = db.execute("INSERT OR IGNORE INTO seen_webhooks VALUES (?)", (webhook_id,))
            return inserted.rowcount == 1
    finally:
        db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    webhook = Webhook(os.environ["WEBHOOK_SECRET"])
    server = ThreadingHTTPServer((args.host, args.port), handler_for(args.database, webhook))
    print(f"listening on http://{args.host}:{args.port}/", flush=True)
    server.serve_forever()
