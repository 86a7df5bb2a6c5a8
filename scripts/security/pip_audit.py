"""Runs pip-audit on the installed environment; known vulnerabilities fail, unless ignored with a reason.

pip-audit needs a vulnerability database. Its default service asks PyPI for each installed release
(``/pypi/NAME/VERSION/json``); its other one is OSV. Where neither answers (a package mirror that serves
only the index, no route to OSV), pip-audit skips every dependency and would report "no known
vulnerabilities" after checking nothing: this script says so instead, and skips the step.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

IGNORE_FILE = Path(__file__).with_name("pip-audit-ignore.txt")


def ignored_ids(path: Path) -> list[str]:
    ids = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit(f"{path}:{number}: {vuln_id} is ignored without a reason")
        ids.append(vuln_id)
    return ids


def main() -> int:
    ignore = [arg for vuln_id in ignored_ids(IGNORE_FILE) for arg in ("--ignore-vuln", vuln_id)]
    done = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off", *ignore],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit: SKIPPED, it could not run: {done.stderr.strip().splitlines()[-1:]}")
        return 0
    dependencies = report["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        print(
            f"pip-audit: SKIPPED, no vulnerability database answered for any of {len(dependencies)} "
            "installed packages (PyPI's per-release JSON and OSV are both out of reach from here); "
            "nothing was audited"
        )
        return 0
    vulnerable = [d for d in audited if d["vulns"]]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln["fix_versions"]) or "none yet"
            print(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixes})")
    skipped = len(dependencies) - len(audited)
    print(f"pip-audit: {len(audited)} packages audited, {skipped} skipped, {len(vulnerable)} vulnerable")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
