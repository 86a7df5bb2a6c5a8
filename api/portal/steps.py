"""A job's events as the steps an association follows, in the viewer's language where the steps are ours.

Our playbooks' task names are keys of the message catalogue (context ``job step``), so a renamed task
without a translation shows in English rather than wrong. A template's own tasks and the failures as
Ansible words them stay as they are, marked English. Of the worker's notes between runs, those that
name no server are shown too, translated by their pattern.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from api.portal.i18n import N_, Texts
from api.portal.playbook_steps import STEP_CONTEXT
from provisioner.models import JobEvent

STEP_PREFIX = "Step: "
SOURCE_LANGUAGE = "en"
# The progress notes of provisioner/engine/steps.py, updates.py, moves.py, space_jobs.py,
# space_data_jobs.py and the exports';
# keep in step with their wording.
NOTES = (
    (re.compile(r"taking a backup first"), N_("Taking a backup first")),
    (re.compile(r"no backup: the service keeps no data"), N_("No backup: the service keeps no data")),
    (re.compile(r"backup \S+ taken at (?P<at>.+)"), N_("Backup taken at %(at)s")),
    (re.compile(r"updating from (?P<old>\S+) to (?P<new>\S+)"), N_("Updating from %(old)s to %(new)s")),
    (
        re.compile(r"restoring the backup taken at (?P<at>[^;]+ UTC)"),
        N_("Restoring the backup taken at %(at)s"),
    ),
    # provisioner/engine/space_jobs.py
    (
        re.compile(r"deploying the shared instance the space goes into"),
        N_("Setting up the shared service the space goes into"),
    ),
    (re.compile(r"making the space with the service's own command"), N_("Making the space in the service")),
    (
        re.compile(r"removing the space with the service's own command"),
        N_("Removing the space from the service"),
    ),
    (
        re.compile(r"changing the space's limits with the service's own command"),
        N_("Changing the space's limits in the service"),
    ),
    (
        re.compile(r"that was the shared instance's last space: removing the shared instance"),
        N_("That was the last space: removing the shared service"),
    ),
    # provisioner/engine/space_data_jobs.py
    (
        re.compile(r"backing the space up into the association's own repository"),
        N_("Backing the space up into your association's own backup storage"),
    ),
    (
        re.compile(r"putting the space's backup back into its place in the shared instance"),
        N_("Putting the space's backup back into the shared service"),
    ),
    (re.compile(r"deploying the association's dedicated instance"), N_("Setting up the service of your own")),
    (
        re.compile(r"loading the space's data into the dedicated instance, at its own address"),
        N_("Loading the space's content into the service of your own"),
    ),
    (
        re.compile(r"the dedicated instance holds the space's data: removing the space"),
        N_("The service of your own holds the content: removing the space"),
    ),
    # provisioner/engine/export_jobs.py
    (
        re.compile(r"making the export from the backup taken at (?P<at>.+ UTC)"),
        N_("Making the export from the backup taken at %(at)s"),
    ),
    (re.compile(r"making the export"), N_("Making the export")),
    (re.compile(r"export ready: (?P<size>[0-9.]+) MB"), N_("Export ready: %(size)s MB")),
    # provisioner/engine/association_export_jobs.py
    (re.compile(r"exporting the service (?P<name>\S+)"), N_("Exporting the service %(name)s")),
    (
        re.compile(r"left out: the service is (?P<state>\S+); only a running service is exported"),
        N_("Left out: the service is %(state)s; only a running service is exported"),
    ),
    (
        re.compile(r"left out: its template does not say how its data is exported"),
        N_("Left out: its template does not say how its data is exported"),
    ),
    (
        re.compile(r"left out: another job was working on the service"),
        N_("Left out: another job was working on the service"),
    ),
)


@dataclass(frozen=True)
class Step:
    text: str
    lang: str


def readable(event: JobEvent, texts: Texts) -> Step | None:
    """A step's name, a note of the worker, or what went wrong; None for what an association need not read."""
    line = event.line
    if line.startswith(STEP_PREFIX):
        name = line.removeprefix(STEP_PREFIX)
        translated = texts.pgettext(STEP_CONTEXT, name)
        return Step(translated, texts.language if translated != name else SOURCE_LANGUAGE)
    if event.status == "info" and event.task is None:
        for pattern, message in NOTES:
            found = pattern.fullmatch(line)
            if found:
                return Step(texts.gettext(message, **found.groupdict()), texts.language)
    if event.status in {"failed", "unreachable"} and line:
        return Step(line, SOURCE_LANGUAGE)
    return None


def stream_payload(texts: Texts) -> Callable[[JobEvent], str]:
    def payload(event: JobEvent) -> str:
        step = readable(event, texts)
        return json.dumps(
            {"seq": event.seq, "text": step.text, "lang": step.lang} if step else {"seq": event.seq}
        )

    return payload
