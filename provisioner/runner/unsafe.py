"""Writes variables as YAML in which every string carries Ansible's ``!unsafe`` tag.

Ansible never templates a value tagged unsafe, so a tenant's ``{{ lookup('pipe', 'id') }}`` stays text.
"""

from __future__ import annotations

from typing import Any

import yaml


class _UnsafeDumper(yaml.SafeDumper):
    pass


def _represent_unsafe(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", value)


def _represent_mapping(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.MappingNode:
    # Keys stay plain: they are ours, and Ansible needs them as variable names.
    pairs = [
        (dumper.represent_scalar("tag:yaml.org,2002:str", str(key)), dumper.represent_data(value))
        for key, value in sorted(data.items())
    ]
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs)


_UnsafeDumper.add_representer(str, _represent_unsafe)
_UnsafeDumper.add_representer(dict, _represent_mapping)


def dump_unsafe(variables: dict[str, Any]) -> str:
    return yaml.dump(variables, Dumper=_UnsafeDumper, default_flow_style=False)
