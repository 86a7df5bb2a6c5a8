"""Writes variables as YAML in which every string carries Ansible's ``!unsafe`` tag.

Ansible never templates a value tagged unsafe, so a tenant's ``{{ lookup('pipe', 'id') }}`` stays text.
"""

from __future__ import annotations

from typing import Any

import yaml


class _UnsafeDumper(yaml.SafeDumper):
    pass


_STR_TAG = "tag:yaml.org,2002:str"


def _represent_unsafe(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Ansible (2.19) reads an !unsafe scalar as if it were plain, quoted or not: "true" would arrive as
    # a boolean, "1" or "6.1" as a number, "null" as None (so `docker exec NAME true` ran "True").
    # Such a string holds no template syntax, so it travels as a plain string, quoted.
    if dumper.resolve(yaml.ScalarNode, value, (True, False)) != _STR_TAG:  # type: ignore[no-untyped-call]
        return dumper.represent_scalar(_STR_TAG, value, style="'")
    return dumper.represent_scalar("!unsafe", value)


def _represent_mapping(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.MappingNode:
    # Keys stay plain: they are ours, and Ansible needs them as variable names.
    pairs = [
        (dumper.represent_scalar(_STR_TAG, str(key)), dumper.represent_data(value))
        for key, value in sorted(data.items())
    ]
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs)


_UnsafeDumper.add_representer(str, _represent_unsafe)
_UnsafeDumper.add_representer(dict, _represent_mapping)


def dump_unsafe(variables: dict[str, Any]) -> str:
    return yaml.dump(variables, Dumper=_UnsafeDumper, default_flow_style=False)
