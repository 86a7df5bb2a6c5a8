"""Which modes of a template associations may request: the operator's choice among those it offers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.model import Template
from provisioner.catalog.sharing import Mode, offered_modes
from provisioner.errors import InvalidInput
from provisioner.models import TemplateModes

# Until the operator says otherwise a template is what it was before it offered sharing.
DEFAULT: list[Mode] = ["dedicated"]


def allowed_modes(session: Session, template: Template) -> list[Mode]:
    offered = offered_modes(template.sharing)
    row = session.get(TemplateModes, template.name)
    chosen = row.modes if row is not None else DEFAULT
    return [mode for mode in offered if mode in chosen]


def require_mode(session: Session, template: Template, mode: Mode) -> None:
    if mode not in allowed_modes(session, template):
        wanted = "a dedicated instance" if mode == "dedicated" else "a space in a shared instance"
        raise InvalidInput(
            f"the lab does not offer {template.name} as {wanted}",
            errors=[{"field": "body.template", "message": f"{mode} is not offered for {template.name}"}],
        )


def set_modes(session: Session, *, actor: Actor, template: Template, modes: list[Mode]) -> list[Mode]:
    actor.require_operator()
    offered = offered_modes(template.sharing)
    unknown = [mode for mode in modes if mode not in offered]
    if unknown or not modes:
        raise InvalidInput(
            f"{template.name} offers {', '.join(offered)}",
            errors=[{"field": "body.modes", "message": f"one or more of: {', '.join(offered)}"}],
        )
    row = session.get(TemplateModes, template.name)
    if row is None:
        session.add(TemplateModes(template=template.name, modes=list(modes)))
    else:
        row.modes = list(modes)
    session.flush()
    return allowed_modes(session, template)
