"""Logging: one JSON object per line, or readable text on a terminal, carrying a request id when
there is one. LOG_FORMAT=auto (the default) writes text when stderr is a terminal and JSON
otherwise; `json` and `text` choose."""

from __future__ import annotations

import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from portal_graph.config import Settings

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message key=value...`; the brackets only inside a
    request, the extra fields a JSON line would carry after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{key}={value}" for key, value in record.__dict__.items()
                          if key not in _STANDARD and key not in _SHOWN and value is not None)
        if extras:
            head, newline, rest = line.partition("\n")  # a traceback stays below
            line = f"{head} {extras}{newline}{rest}"
        request_id = getattr(record, "request_id", None)
        if not request_id:
            return line
        head, _, rest = line.partition(f" {record.name} ")
        return f"{head} {record.name} [{request_id}] {rest}"


_SHOWN = {"request_id", "trace_id", "span_id", "color_message"}


def log_format(settings: Settings, stream: object = None) -> str:
    """`json` or `text`: LOG_FORMAT's, or for `auto` text exactly when `stream` (stderr)
    is a terminal."""
    if settings.log_format != "auto":
        return settings.log_format
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def logging_config(settings: Settings) -> dict[str, Any]:
    """The whole logging set-up as a dictConfig, so uvicorn's worker processes (spawned, not
    forked) apply it too: `uvicorn.run(log_config=logging_config(settings))`.

    One handler on the root logger, with the filter that stamps each record with its request
    id (and trace ids when tracing), so every logger's lines carry it.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {
            "()": "portal_graph.observability.log_context.RequestContextFilter"}},
        "formatters": {"json": {"()": "portal_graph.logs.JsonFormatter"},
                       "text": {"()": "portal_graph.logs.TextFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": log_format(settings), "filters": ["request"]}},
        "root": {"handlers": ["stderr"], "level": settings.log_level},
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
