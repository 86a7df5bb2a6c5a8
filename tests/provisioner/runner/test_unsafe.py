from __future__ import annotations

import yaml

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
