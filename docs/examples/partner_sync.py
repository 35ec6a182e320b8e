#!/usr/bin/env python3
"""Keep a local SQLite copy of the completed jobs you can see, through the change feed.

    PORTAL_API=https://portal.example.com/graphql PORTAL_TOKEN=pgt_... \
        python3 partner_sync.py jobs.sqlite3

Each run asks `changes(after: <the stored cursor>)` for what changed since the last run, 100
at a time, applies it and stores the new cursor in the same transaction, so a run that dies
half-way starts again where the last committed page ended. A job is kept while it is visible
to you and COMPLETED; a change telling that it left your view (`removed`) deletes it. Only
the Python standard library is needed. Run it from cron, or from the webhook receiver when a
`job.completed` arrives (webhook_receiver.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import urllib.request

CHANGES = """query Sync($after: String) {
  changes(after: $after, first: 100) {
    edges { node { nodeId removed node { __typename ... on Job {
      reference title status completedAt customer { name } } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, reference TEXT, title TEXT,
                                 customer TEXT, completed_at TEXT);
CREATE TABLE IF NOT EXISTS sync_state (one INTEGER PRIMARY KEY CHECK (one = 1), cursor TEXT);
"""


def graphql(api: str, token: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        api, data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if body.get("errors"):
        raise RuntimeError(f"the API answered errors: {body['errors']}")
    return body["data"]


def sync(database: str, api: str, token: str) -> int:
    """Apply every change since the stored cursor; returns how many changes were applied."""
    db = sqlite3.connect(database)
    try:
        db.executescript(SCHEMA)
        row = db.execute("SELECT cursor FROM sync_state").fetchone()
        cursor, applied = (row[0] if row else None), 0
        while True:
            page = graphql(api, token, CHANGES, {"after": cursor})["changes"]
            with db:  # the page and its cursor commit together
                for edge in page["edges"]:
                    apply(db, edge["node"])
                    applied += 1
                cursor = page["pageInfo"]["endCursor"] or cursor
                db.execute("INSERT INTO sync_state (one, cursor) VALUES (1, ?) "
                           "ON CONFLICT (one) DO UPDATE SET cursor = excluded.cursor", (cursor,))
            if not page["pageInfo"]["hasNextPage"]:
                return applied
    finally:
        db.close()


def apply(db: sqlite3.Connection, change: dict) -> None:
    node = change["node"]
    if node is not None and node["__typename"] != "Job":
        return  # customers, captures and assets: not kept by this example
    if change["removed"] or node is None or node["status"] != "COMPLETED":
        db.execute("DELETE FROM jobs WHERE id = ?", (change["nodeId"],))
        return
    db.execute(
        "INSERT INTO jobs (id, reference, title, customer, completed_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET reference = excluded.reference, title = excluded.title, "
        "customer = excluded.customer, completed_at = excluded.completed_at",
        (change["nodeId"], node["reference"], node["title"], node["customer"]["name"],
         node["completedAt"]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: partner_sync.py DATABASE.sqlite3 (with PORTAL_API and PORTAL_TOKEN)")
    count = sync(sys.argv[1], os.environ["PORTAL_API"], os.environ["PORTAL_TOKEN"])
    print(f"applied {count} changes")
