"""Logging setup for entry points: one line per event, with its context as key=value pairs
(or one JSON object per line with ``NEWSFLOW_LOG_FORMAT=json``). Library code only calls
``logging.getLogger(__name__)`` and passes context through ``extra=``."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and v is not None}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = (f"{self.formatTime(record)} {record.levelname:<7} {record.name}: "
                f"{record.getMessage()}")
        pairs = " ".join(f"{k}={_quote(v)}" for k, v in _context(record).items())
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": self.formatTime(record), "level": record.levelname,
                "logger": record.name, "msg": record.getMessage(), **_context(record)}
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


# Clients that log a full traceback with each warning about a request they will retry.
_RETRYING_CLIENTS = ("elastic_transport",)


def _one_line_client_warnings(record: logging.LogRecord) -> bool:
    """A retried request's warning keeps its cause, not its traceback: a refused connection
    made six traceback-long warnings before the one error that counts."""
    if (record.exc_info and record.levelno < logging.ERROR
            and record.name.startswith(_RETRYING_CLIENTS)):
        error = record.exc_info[1]
        record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
        record.args = None
        record.exc_info = record.exc_text = None
    return True


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(_one_line_client_warnings)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO (the CoreNLP client sends thousands a minute); httpcore
    # its connections at DEBUG.
    for noisy in ("kafka", "elastic_transport", "httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
