"""``sharing.shared.data`` in template.yaml: a shared template says whether one space's data can be taken
apart from the others', with the commands that do it, or what a restore would do instead."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from provisioner.catalog.sharing import Sharing
from tests.support import factories

RESTORE_SAID = {
    "de": "Eine Wiederherstellung setzt den ganzen gemeinsamen Dienst zurück, alle Bereiche darin.",
    "en": "A restore puts the whole shared service back, every space in it.",
}


def _sharing(data: dict[str, Any] | None) -> dict[str, Any]:
    shared: dict[str, Any] = {
        "spaces_per_instance": 5,
        "commands": {"container": "web", "create": ["make"], "remove": ["remove"]},
    }
    if data is not None:
        shared["data"] = data
    return {"modes": ["dedicated", "shared"], "shared": shared}


def test_the_shipped_wordpress_separates_a_space_with_its_own_commands() -> None:
    sharing = factories.CATALOG.get("wordpress").sharing
    assert sharing is not None
    assert sharing.shared is not None
    data = sharing.shared.data
    assert data.separable
    assert data.export == data.import_ == ["php", "/etc/provisioner/space-data.php"]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (None, "shared.data"),
        ({"separable": True, "export": ["dump"]}, "needs its export and import commands"),
        ({"separable": False}, "restore says (de, en) what a restore would do"),
        ({"separable": False, "restore": {"de": "x"}}, "shared.data.restore.en"),
        ({"separable": True, "export": [], "import": ["load"]}, "shared.data.export"),
    ],
)
def test_a_shared_template_must_say_how_a_spaces_data_is_kept(data: dict[str, Any] | None, said: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Sharing.model_validate(_sharing(data))
    assert said in str(raised.value)


def test_a_service_that_cannot_separate_spaces_says_what_a_restore_does() -> None:
    sharing = Sharing.model_validate(_sharing({"separable": False, "restore": RESTORE_SAID}))
    assert sharing.shared is not None
    assert sharing.shared.data.restore is not None
    assert sharing.shared.data.restore.en == RESTORE_SAID["en"]


def test_a_dedicated_only_service_may_say_why_but_not_beside_a_shared_mode() -> None:
    why = {"de": "Nur als eigener Dienst.", "en": "Only as a service of its own."}
    assert Sharing.model_validate({"modes": ["dedicated"], "dedicated_only": why}).dedicated_only is not None
    with pytest.raises(ValidationError) as raised:
        Sharing.model_validate(
            {**_sharing({"separable": False, "restore": RESTORE_SAID}), "dedicated_only": why}
        )
    assert "dedicated_only says why there is no shared mode" in str(raised.value)


def test_the_shipped_discourse_is_dedicated_only_and_says_why_in_both_languages() -> None:
    sharing = factories.CATALOG.get("discourse").sharing
    assert sharing is not None
    assert (sharing.modes, sharing.shared) == (["dedicated"], None)
    assert sharing.dedicated_only is not None
    assert "ganze Forum" in sharing.dedicated_only.de
    assert "whole forum" in sharing.dedicated_only.en
