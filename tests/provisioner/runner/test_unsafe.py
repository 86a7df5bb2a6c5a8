from __future__ import annotations

import pytest
import yaml
from ansible.parsing.utils.yaml import from_yaml
from ansible.template import is_trusted_as_template

from provisioner.runner.unsafe import dump_unsafe


def test_every_string_is_tagged_and_keys_stay_plain() -> None:
    text = dump_unsafe({"title": "{{ lookup('pipe', 'id') }}", "nested": {"items": ["$(id)", 3, True]}})
    assert "title: !unsafe" in text
    assert "- !unsafe '$(id)'" in text
    assert "nested:\n" in text
    assert "- 3\n" in text


def test_values_round_trip_unchanged() -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    variables = {"a": "multi\nline 'quoted' \"double\"", "b": {"c": ["x", None, 1.5]}}
    assert yaml.load(dump_unsafe(variables), Loader=Loader) == variables  # noqa: S506 - a SafeLoader subclass


@pytest.mark.parametrize(
    "text",
    ["true", "yes", "on", "False", "1", "0123", "6.1", "1.10", "1e3", "0x1f", "null", "~", "", "12:30"],
)
def test_ansible_reads_every_string_as_the_same_string(text: str) -> None:
    """Ansible resolves an !unsafe scalar as if it were plain: a readiness command `true` once reached
    `docker exec` as "True", and a version "1.10" would have become the number 1.1."""
    read = from_yaml(dump_unsafe({"argv": [text], "nested": {"value": text}}))
    assert read["argv"] == [text]
    assert read["nested"]["value"] == text
    assert type(read["argv"][0]) is not bool
    assert isinstance(read["argv"][0], str)


def test_ansible_never_templates_a_tenants_text() -> None:
    read = from_yaml(dump_unsafe({"title": "{{ lookup('pipe', 'id') }}", "plain": "Vereinsfest"}))
    assert read["title"] == "{{ lookup('pipe', 'id') }}"
    assert not is_trusted_as_template(read["title"])
    assert not is_trusted_as_template(read["plain"])
