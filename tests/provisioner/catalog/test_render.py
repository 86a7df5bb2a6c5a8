from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from provisioner.catalog.loader import load_template
from provisioner.catalog.render import RenderError, render_files
from provisioner.config import Settings

HOMEPAGE = Settings().resolved_templates_dir / "homepage"
CONTEXT = {"instance": {"id": "ins_1", "name": "site", "url": "http://x/"}, "params": {"language": "en"}}


def test_tenant_text_is_escaped_in_html_and_never_evaluated() -> None:
    title = "<script>alert(1)</script> {{ 7*7 }} {% if true %}x{% endif %}"
    rendered = render_files(
        load_template(HOMEPAGE), context={**CONTEXT, "params": {"title": title, "language": "en"}}
    )
    page = rendered["seed/index.html"]
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% if true %}x{% endif %}" in page
    assert "49" not in page


def test_an_undefined_variable_fails_loudly(tmp_path: Path) -> None:
    folder = tmp_path / "homepage"
    shutil.copytree(HOMEPAGE, folder)
    (folder / "files" / "index.html.j2").write_text("{{ params.titel }}")
    with pytest.raises(RenderError, match=r"homepage/files/index.html.j2:1: .*titel"):
        render_files(load_template(folder), context={**CONTEXT, "params": {"title": "x"}})
