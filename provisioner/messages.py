"""What the services say (refusals, job errors, alerts) in the reader's language.

The core writes its messages in English for the API, logs and the command line. The ones people meet in
the portal and in mails are known here by their shape, with a translatable text each (marked for both the
portal's and the notices' catalogues); anything else (an Ansible task's own output, say) stays as it came.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

Text = TypeVar("Text", bound=str)


def N_(message: str) -> str:  # gettext's name for a text marked here and translated where it is shown
    return message


# Instance states as the portal's badges name them, for states inside a message.
STATES = {
    "requested": N_("waiting for approval"),
    "approved": N_("approved"),
    "rejected": N_("declined"),
    "provisioning": N_("being set up"),
    "running": N_("running"),
    "failed": N_("failed"),
    "updating": N_("being updated"),
    "backing_up": N_("backing up"),
    "restoring": N_("restoring"),
    "removing": N_("being removed"),
    "removed": N_("removed"),
}
SCHEDULED = {"backup": N_("backup"), "update": N_("update"), "drill": N_("restore drill")}
# What a quota counts, as a quota refusal names it.
QUOTA_PARTS = {"instances": N_("services"), "memory": N_("memory"), "disk": N_("disk space")}
# Named parts of a message written with their own words; a part named "why" (or "why_…") is itself a
# message.
NAMED = {"state": STATES, "kind": SCHEDULED, "what": QUOTA_PARTS}
_QUOTA_PART = r"(?:instances|memory|disk): [^;]+"
# The core's refusals of an action on an instance not deployed: "the instance is <state>; <rule>".
NOT_DEPLOYED = {
    "only deployed instances can be deployed again": N_(
        "The service's state is “%(state)s”: only a service that is set up can be set up again."
    ),
    "only deployed instances can be moved": N_(
        "The service's state is “%(state)s”: only a service that is set up can be moved."
    ),
    "only deployed instances can be updated": N_(
        "The service's state is “%(state)s”: only a service that is set up can be updated."
    ),
    "only deployed instances get new credentials": N_(
        "The service's state is “%(state)s”: only a service that is set up gets a new admin access."
    ),
    "only a deployed instance can have a backup": N_(
        "The service's state is “%(state)s”: only a service that is set up can be backed up."
    ),
    "only a deployed instance can have a restore": N_(
        "The service's state is “%(state)s”: only a service that is set up can be restored."
    ),
}
KNOWN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"nothing done: (?P<why>.*)", re.S), N_("Nothing was done: %(why)s")),
    (
        re.compile(r"server (?P<server>\S+) is unreachable: (?P<why>.*)", re.S),
        N_("Server %(server)s cannot be reached: %(why)s"),
    ),
    (
        re.compile(r"server (?P<server>\S+): disk (?P<percent>\d+)% full \(threshold (?P<threshold>\d+)%\)"),
        N_("Server %(server)s: its disk is %(percent)s %% full (the alert is set at %(threshold)s %%)."),
    ),
    (
        re.compile(r"(?P<name>\S+) \((?P<template>[\w-]+)\) is unhealthy: (?P<why>.*)", re.S),
        N_("%(name)s (%(template)s) is not answering: %(why)s"),
    ),
    (re.compile(r"(?P<name>\S+) is healthy again"), N_("%(name)s is working again.")),
    (re.compile(r"no answer( in time)?"), N_("no answer in time")),
    (re.compile(r"its certificate could not be verified"), N_("its certificate could not be verified")),
    (re.compile(r"the request failed \((?P<error>\w+)\)"), N_("the request failed (%(error)s)")),
    (re.compile(r"answered (?P<status>\d+)"), N_("answered with HTTP status %(status)s")),
    (
        re.compile(r"(?P<server>\S+) did not answer within (?P<seconds>[\d.]+) s"),
        N_("%(server)s did not answer within %(seconds)s seconds"),
    ),
    (re.compile(r"(?P<server>\S+) has no recorded host key"), N_("no host key of %(server)s is recorded")),
    (
        re.compile(r"scheduled (?P<kind>\w+) of (?P<name>\S+) could not start: (?P<why>.*)", re.S),
        N_("The scheduled %(kind)s of %(name)s could not start: %(why)s"),
    ),
    (re.compile(r"the instance is removed or about to be"), N_("The service is removed or being removed.")),
    (
        re.compile(r"the (?P<template>[\w-]+) service keeps no data to back up"),
        N_("This service keeps no data of its own, so it needs no backups."),
    ),
    (
        re.compile(r"the instance has no succeeded backup to drill with"),
        N_("There is no finished backup to try a restore with yet."),
    ),
    (
        re.compile(r"that backup running; only a succeeded backup can be restored"),
        N_("That backup is still running: only a finished backup can be restored."),
    ),
    (
        re.compile(r"that backup failed; only a succeeded backup can be restored"),
        N_("That backup failed: only a finished backup can be restored."),
    ),
    (
        re.compile(r"(?P<template>[\w-]+) has no credentials the control plane can reset"),
        N_("The lab's tools cannot reset the admin access of this service."),
    ),
    (
        re.compile(r"no server has enough free capacity for this service .*", re.S),
        N_("No server has enough room for this service. The lab needs to add room or a server first."),
    ),
    (
        re.compile(r"server (?P<server>[\w-]+) takes no new instances \(it is being drained\)"),
        N_("Server %(server)s takes no new services: its services are being moved away."),
    ),
    (re.compile(r"choose a server that is not draining"), N_("Choose a server that takes new services.")),
    (
        re.compile(r"this association already has an instance called '(?P<name>[^']+)'"),
        N_("Your association already has a service called %(name)s."),
    ),
    (
        re.compile(r"this association already has a space called '(?P<name>[^']+)'"),
        N_("Your association already has a space called %(name)s."),
    ),
    (
        re.compile(r"(?P<address>\S+) is taken( already|; choose another)"),
        N_("%(address)s is taken already."),
    ),
    (
        re.compile(r"'(?P<address>[^']+)' cannot be used as a subdomain"),
        N_("%(address)s cannot be used as the first part of an address."),
    ),
    (
        re.compile(
            r"(?P<association>.+) would go beyond its quota with this (?P<template>[\w-]+) — (?P<why>.+)\. "
            r"Remove an instance, or ask the lab's operators to raise the quota\.",
            re.S,
        ),
        N_(
            "%(association)s would go beyond its quota with this %(template)s (%(why)s). Remove a service, "
            "or ask the lab to raise the quota."
        ),
    ),
    # The parts of a quota refusal, one by one: "memory: 900 MB in use, 256 MB more asked, quota 1024 MB".
    (
        re.compile(rf"(?P<why>{_QUOTA_PART}); (?P<why_more>{_QUOTA_PART}(?:; {_QUOTA_PART})*)"),
        N_("%(why)s; also %(why_more)s"),
    ),
    (
        re.compile(
            r"(?P<what>instances|memory|disk): (?P<used>\d+)(?P<unit>(?: [MG]B)?) in use, "
            r"(?P<more>\d+)(?: [MG]B)? more asked, quota (?P<limit>\d+)(?: [MG]B)?"
        ),
        N_("%(what)s: %(used)s%(unit)s in use, %(more)s%(unit)s more asked, the quota is %(limit)s%(unit)s"),
    ),
    (re.compile(r"canceled before it started"), N_("Canceled before it started.")),
    (re.compile(r"canceled while running"), N_("Canceled while it ran.")),
    (
        re.compile(r"worker lost: .*", re.S),
        N_("The worker running it stopped answering; the lab has to look at it."),
    ),
    (
        re.compile(r"it ran longer than its time limit, or printed nothing for longer than its idle limit"),
        N_("It took longer than it may take, or made no progress for too long."),
    ),
    (
        re.compile(r"the new instance could not be deployed"),
        N_("The new service could not be set up."),
    ),
    (
        re.compile(r"the bootstrap did not finish: (?P<why>.*)", re.S),
        N_("The server's bootstrap did not finish: %(why)s"),
    ),
    (
        re.compile(r"the [\w ]+ broke down inside the control plane: (?P<error>\w+)"),
        N_("It broke down inside the control plane (%(error)s): the control plane's own log tells more."),
    ),
    (
        re.compile(r"the backup playbook reported no snapshot"),
        N_("The backup ended without saving anything."),
    ),
    # A space's name the service itself would refuse (sharing.shared.names in template.yaml).
    (
        re.compile(
            r"(?P<template>[\w-]+) refuses the name '(?P<name>[^']+)' for a space: "
            r"choose a name not beginning with '(?P<prefix>[^']+)'"
        ),
        N_(
            "%(template)s does not take the name %(name)s: names beginning with “%(prefix)s” are reserved "
            "there."
        ),
    ),
    (
        re.compile(
            r"(?P<template>[\w-]+) refuses the name '(?P<name>[^']+)' for a space: "
            r"choose a name of at least (?P<count>\d+) characters"
        ),
        N_("%(template)s does not take the name %(name)s: it needs at least %(count)s characters."),
    ),
    (
        re.compile(r"a link of the [\w-]+ service is valid for (?P<days>\d+) days at most"),
        N_("A moderator link is valid for %(days)s days at most."),
    ),
    # A change of a space's limits (provisioner/spaces/quota.py, provisioner/engine/space_jobs.py).
    (
        re.compile(r"the [\w-]+ service does not enforce this limit"),
        N_("This service does not enforce this limit."),
    ),
    (
        re.compile(r"the space has a change of its limits, a removal or a move waiting already"),
        N_("A change of the space's limits, its removal or its move is waiting already."),
    ),
    (
        re.compile(r"the space's limits could not be changed: (?P<why>.*)", re.S),
        N_("The space's limits could not be changed: %(why)s"),
    ),
]


KNOWN += [
    (re.compile(r"the instance is (?P<state>\w+); " + re.escape(rule)), message)
    for rule, message in NOT_DEPLOYED.items()
]


def reworded(
    message: str,
    gettext: Callable[[str], str],
    *,
    known: Callable[[str], Text],
    foreign: Callable[[str], Text],
) -> Text:
    """The message in the reader's language when it is a known one: its translated text made ``Text`` by
    ``known`` (escaped markup, say), filled with its parts; else the message as ``foreign`` marks it."""
    for pattern, text in KNOWN:
        found = pattern.fullmatch(message)
        if found:
            parts: dict[str, str] = {}
            for name, value in found.groupdict().items():
                if name == "why" or name.startswith("why_"):
                    parts[name] = reworded(value, gettext, known=known, foreign=foreign)
                else:
                    words = NAMED.get(name, {})
                    parts[name] = gettext(words[value]) if value in words else value
            return known(gettext(text)) % parts  # type: ignore[return-value]
    return foreign(message)
