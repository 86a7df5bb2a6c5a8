"""Every form the portal takes is read and its CSRF token checked in one place: the form dependencies."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.portal import auth
from tests.api.conftest import Api
from tests.support.portal import People

FORM_CHECKS: set[Callable[..., Any]] = {auth._signed_form, auth._anonymous_form, auth._form_sender}
# Choosing the language sets only the reader's own cookie: nothing stored changes, so no token is asked.
UNCHECKED = {"/language"}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.add(sub.call)
        found |= _calls(sub)
    return found


def _portal_forms(api: Api) -> list[tuple[str, APIRoute]]:
    """Each form of the portal, as the path it answers at and its route."""
    forms = []
    for context in iter_route_contexts(api.client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and "POST" in route.methods
            and route.endpoint.__module__.startswith("api.portal.")
            and context.path not in UNCHECKED
        ):
            forms.append((str(context.path), route))
    assert len(forms) > 40, "the portal's forms were found"
    return forms


def test_every_portal_form_is_read_through_a_form_dependency(api: Api) -> None:
    unchecked = [path for path, route in _portal_forms(api) if not _calls(route.dependant) & FORM_CHECKS]
    assert unchecked == []


def test_every_portal_form_without_its_token_is_refused_before_anything_is_looked_up(
    api: Api, people: People
) -> None:
    for template, _route in _portal_forms(api):
        path = re.sub(r"\{[^}]+\}", "nope", template)
        # Signed in as an operator, whom every page lets in: only the missing token is wrong.
        refused = people.operator.post(path, data={"name": "x"}, follow_redirects=False)
        assert refused.status_code == 403, (template, refused.status_code, refused.text[:200])
        forged = people.operator.post(path, data={"csrf_token": "forged"}, follow_redirects=False)
        assert forged.status_code == 403, (template, forged.status_code)
