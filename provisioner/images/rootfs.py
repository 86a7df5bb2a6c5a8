"""Root file systems made from Debian packages with debootstrap, so no base image is ever pulled."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

SUITE = "bookworm"
SECURITY_SUITE = f"{SUITE}-security"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
FALLBACK_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEBOOTSTRAP_TIMEOUT_S = 1800
UPGRADE_TIMEOUT_S = 900
# What a built image says about the security updates in it: the week, the suite, what was upgraded.
SECURITY_RECORD = "etc/provisioner-security-updates"

# Package lists, caches, documentation and translations are dead weight in a container that never
# runs apt nor talks to a person.
_TRIMMED = (
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf/templates.dat-old",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)


class BuildError(Exception):
    """An image could not be built or published; the message says what to look at."""


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses, so builds go where apt is allowed to go."""
    return _mirror_of(SUITE, sources_dir) or FALLBACK_MIRROR


def security_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """Where this machine's apt gets Debian's security updates (a lab's own mirror, say)."""
    return _mirror_of(SECURITY_SUITE, sources_dir) or FALLBACK_SECURITY_MIRROR


def security_week(today: date | None = None) -> str:
    """The week whose security updates a build takes ("2026-W49"): a new week means a new build."""
    year, week, _ = (today or datetime.now(UTC).date()).isocalendar()
    return f"{year}-W{week:02d}"


def _mirror_of(suite: str, sources_dir: Path) -> str | None:
    deb822 = sources_dir / "sources.list.d" / "debian.sources"
    if deb822.is_file():
        for stanza in deb822.read_text().split("\n\n"):
            fields = _deb822_fields(stanza)
            if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
                uris = fields.get("uris", "").split()
                if uris:
                    return uris[0].rstrip("/")
    one_line = sources_dir / "sources.list"
    if one_line.is_file():
        for line in one_line.read_text().splitlines():
            words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1].rstrip("/")
    return None


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def debootstrap(target: Path, *, packages: list[str], mirror: str) -> None:
    if os.geteuid() != 0:
        raise BuildError("building an image runs debootstrap, which needs root")
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is not installed (Debian package 'debootstrap')")
    argv = ["debootstrap", "--variant=minbase", "--components=main"]
    if packages:
        argv.append("--include=" + ",".join(packages))
    argv += [SUITE, str(target), mirror]
    logger.info("debootstrap %s with %s from %s", SUITE, ",".join(packages) or "nothing more", mirror)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"debootstrap did not finish within {DEBOOTSTRAP_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        log = target / "debootstrap" / "debootstrap.log"
        detail = log.read_text(errors="replace") if log.is_file() else done.stdout + done.stderr
        raise BuildError(f"debootstrap failed (exit {done.returncode}):\n{_tail(detail)}")


def apply_security_updates(rootfs: Path, *, mirror: str, week: str) -> None:
    """Upgrades the rootfs from Debian's security suite, so an image is not frozen at the point
    release debootstrap installed, and records what changed in ``SECURITY_RECORD``."""
    (rootfs / "etc/apt/sources.list.d/security.list").write_text(f"deb {mirror} {SECURITY_SUITE} main\n")
    proc = rootfs / "proc"
    _run_in(rootfs, ["mount", "-t", "proc", "proc", str(proc)], chroot=False)
    try:
        before = _installed(rootfs)
        _run_in(rootfs, ["apt-get", "-q", "-o", "Acquire::Retries=3", "update"])
        _run_in(rootfs, [
            "apt-get", "-q", "-y", "-o", "Dpkg::Options::=--force-confdef",
            "-o", "Dpkg::Options::=--force-confold", "upgrade",
        ])  # fmt: skip
        after = _installed(rootfs)
    finally:
        subprocess.run(["umount", str(proc)], capture_output=True, check=False)
    upgraded = [f"{name} {before[name]} -> {version}" for name, version in sorted(after.items())
                if name in before and before[name] != version]  # fmt: skip
    lines = [
        f"week: {week}",
        f"suite: {SECURITY_SUITE} from {mirror}",
        f"upgraded: {len(upgraded)}",
        *upgraded,
    ]
    record = rootfs / SECURITY_RECORD
    record.write_text("\n".join(lines) + "\n")
    record.chmod(0o644)
    logger.info("%d packages upgraded from %s", len(upgraded), SECURITY_SUITE)


def _installed(rootfs: Path) -> dict[str, str]:
    listed = _run_in(rootfs, ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"])
    return dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)


def _run_in(rootfs: Path, argv: list[str], *, chroot: bool = True) -> str:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    full = ["chroot", str(rootfs), *argv] if chroot else argv
    try:
        done = subprocess.run(
            full, capture_output=True, text=True, env=env, timeout=UPGRADE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{' '.join(argv[:2])} did not finish within {UPGRADE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise BuildError(
            f"{' '.join(argv[:2])} in the image failed (exit {done.returncode}); the security updates "
            f"come from the machine's apt source for {SECURITY_SUITE}:\n{_tail(done.stdout + done.stderr)}"
        )
    return done.stdout


def trim(rootfs: Path) -> None:
    for rel in _TRIMMED:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                _remove(child)
        elif path.exists() or path.is_symlink():
            path.unlink()


def apply_overlay(overlay: Path, rootfs: Path) -> None:
    """Copies the overlay over the rootfs, keeping modes; a file in the overlay replaces the one below.

    Symlinks inside the rootfs are never followed: many are absolute and would lead out of it onto
    this machine's own files.
    """
    for src_dir, dirnames, filenames in os.walk(overlay):
        rel = Path(src_dir).relative_to(overlay)
        dest_dir = rootfs / rel
        if dest_dir.is_symlink():
            raise BuildError(
                f"overlay folder {rel} is a symlink in the image ({os.readlink(dest_dir)}); "
                "put the files under the folder it points to"
            )
        if not dest_dir.exists():
            dest_dir.mkdir()
            shutil.copymode(src_dir, dest_dir)
        for name in sorted(filenames) + [d for d in dirnames if (Path(src_dir) / d).is_symlink()]:
            dest = dest_dir / name
            if dest.is_dir() and not dest.is_symlink():
                raise BuildError(f"overlay file {rel / name} would replace a folder in the image")
            if dest.exists() or dest.is_symlink():
                dest.unlink()
            shutil.copy2(Path(src_dir) / name, dest, follow_symlinks=False)


def give_to(rootfs: Path, folder: str, owner: str) -> None:
    """Makes ``folder`` (created when missing) and everything below it owned by ``owner`` ("uid:gid").

    Symlinks are changed themselves, never followed out of the rootfs.
    """
    uid, gid = (int(part) for part in owner.split(":"))
    top = rootfs / folder.lstrip("/")
    if top.is_symlink():
        raise BuildError(f"owned folder {folder} is a symlink in the image")
    top.mkdir(parents=True, exist_ok=True)
    os.chown(top, uid, gid, follow_symlinks=False)
    for parent, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            os.chown(Path(parent) / name, uid, gid, follow_symlinks=False)


def write_tar(rootfs: Path, target: Path) -> None:
    """Writes the rootfs as a tar that `docker import` takes; written aside, then renamed into place."""
    partial = target.with_name(target.name + ".partial")
    # Docker gives every container its own /dev, /proc and /sys; device nodes would only get in the way.
    argv = [
        "tar", "-C", str(rootfs), "--numeric-owner", "--xattrs",
        "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./run/*",
        "-cf", str(partial), ".",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"tar of {rootfs} failed:\n{_tail(done.stderr)}")
    partial.replace(target)


def extract_tar(source: Path, rootfs: Path) -> None:
    argv = ["tar", "-C", str(rootfs), "--numeric-owner", "--xattrs", "-xpf", str(source)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"unpacking {source} failed:\n{_tail(done.stderr)}")


def remove_tree(path: Path) -> None:
    """Removes a build folder; anything debootstrap left mounted inside is unmounted first.

    A leftover bind mount of /dev or /proc would otherwise let the removal reach this machine's own.
    """
    for mount in sorted(_mounts_below(path), key=lambda p: len(p.parts), reverse=True):
        subprocess.run(["umount", "--lazy", str(mount)], capture_output=True, check=False)
    remaining = _mounts_below(path)
    if remaining:
        raise BuildError(f"cannot remove {path}: still mounted: {', '.join(map(str, remaining))}")
    shutil.rmtree(path, ignore_errors=True)


def _mounts_below(path: Path) -> list[Path]:
    root = path.resolve()
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            # Field 5 is the mount point, with spaces and the like written as octal escapes.
            point = Path(line.split()[4].encode().decode("unicode_escape"))
            if point == root or root in point.parents:
                found.append(point)
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])
