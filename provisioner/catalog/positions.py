"""Line numbers inside template.yaml, so a mistake is reported as ``file:line``, not only as a path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml


def line_of(path: Path, location: Sequence[str | int]) -> int | None:
    """The 1-based line of the deepest YAML node found along ``location`` (keys and list indexes)."""
    try:
        node: yaml.Node | None = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for step in location:
        if isinstance(node, yaml.MappingNode):
            found = next((value for key, value in node.value if key.value == str(step)), None)
            if found is None:
                break
            key_node = next(key for key, value in node.value if value is found)
            line, node = key_node.start_mark.line + 1, found
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def where(path: Path, location: Sequence[str | int]) -> str:
    line = line_of(path, location)
    return f"{path}:{line}" if line else str(path)
