"""Log lines as JSON for a log collector (``PROVISIONER_LOG_FORMAT=json``), each carrying the HTTP request
or the job it belongs to.

In the default text format the API keeps uvicorn's and the worker Celery's own console output. In JSON,
one configuration (``logging_config``) serves every process: uvicorn applies it in each API process it
starts, the worker and the scheduler apply it instead of Celery's (``provisioner.worker.logs``).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from provisioner.config import Settings

# Set by the API's request-id middleware for the request's whole life (route threads copy the context).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Set while a worker process runs one job's task.
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

FIELDS = ("asctime", "levelname", "name", "message", "request_id", "job_id")
# httpx logs every request with its whole URL at INFO, and a webhook's URL is its secret (Mattermost,
# Slack): only their warnings are wanted, in either format.
QUIET = ("httpx", "httpcore")


def quiet_request_logs() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


class ContextFilter(logging.Filter):
    """Puts the current request's and job's id on every record (None outside of either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


def logging_config(settings: Settings) -> dict[str, Any] | None:
    """A ``logging.config.dictConfig`` for JSON lines; None keeps the text output of uvicorn and Celery."""
    if settings.log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": list(FIELDS),
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                # uvicorn adds a copy of each message with terminal colours.
                "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["context"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        # uvicorn's loggers come with handlers of their own in its default configuration; here they
        # hand their lines to the root's.
        "loggers": {
            **{
                name: {"level": "INFO", "handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery")
            },
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }


def uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """``uvicorn.run``'s logging arguments: its default, or the JSON configuration."""
    config = logging_config(settings)
    return {} if config is None else {"log_config": config}
