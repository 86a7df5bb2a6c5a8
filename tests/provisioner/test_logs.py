"""JSON log lines: the fields a collector reads, and the request and job ids from the context."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from provisioner.config import Settings
from provisioner.logs import logging_config, uvicorn_logging

# Applies the configuration in a process of its own: dictConfig replaces the root logger's handlers,
# which this test session's own log capture relies on.
PROGRAM = """
import logging, logging.config
from provisioner.config import Settings
from provisioner.logs import job_id, logging_config, request_id

logging.config.dictConfig(logging_config(Settings(log_format="json", data_dir=DATA)))
logging.getLogger("uvicorn.access").info("GET /healthz 200")
request_id.set("req-12345678")
logging.getLogger("provisioner.api").warning("a line\\nwith a newline in it")
request_id.set(None)
job_id.set("job_abc")
logging.getLogger("provisioner.worker").info("taking the job")
logging.getLogger("httpx").info("HTTP Request: POST https://chat.example/hooks/secret-token")
"""


def test_text_keeps_the_servers_own_output(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert logging_config(settings) is None
    assert uvicorn_logging(settings) == {}


def test_json_lines_carry_the_request_and_the_job(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_format="json")
    assert uvicorn_logging(settings) == {"log_config": logging_config(settings)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.replace("DATA", repr(str(tmp_path)))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["level"], line["request_id"], line["job_id"]) for line in lines] == [
        ("uvicorn.access", "INFO", None, None),
        ("provisioner.api", "WARNING", "req-12345678", None),
        ("provisioner.worker", "INFO", None, "job_abc"),
    ]
    # One line per record: a newline in a message stays inside its JSON string.
    assert lines[1]["message"] == "a line\nwith a newline in it"
    assert all(line["time"] for line in lines)
