"""Steps of jobs that ran before their tasks were folded or renamed still read in German."""

from __future__ import annotations

from pathlib import Path

from api.portal.i18n import Texts
from api.portal.playbook_steps import STEP_CONTEXT
from api.portal.retired_steps import RETIRED_STEPS

CATALOGUE = Path(__file__).parents[3] / "api/portal/locale/de/LC_MESSAGES/portal.po"


def test_jobs_that_ran_retired_steps_still_read_them_in_german() -> None:
    german = Texts("de")
    untranslated = sorted(name for name in RETIRED_STEPS if german.pgettext(STEP_CONTEXT, name) == name)
    assert untranslated == [], "each retired step keeps its German name"
    catalogue = CATALOGUE.read_text(encoding="utf-8")
    assert '#~ msgctxt "job step"' not in catalogue, "a renamed task's old name belongs in RETIRED_STEPS"
