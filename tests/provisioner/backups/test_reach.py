"""Testing a backup target's connection against real listeners: Debian's rclone serving restic's REST
protocol (tests/support/rest_server.py) and moto's S3 server (a stand-in for an S3 service, see
tests/support/s3_standin.py). SFTP against a real sshd is walked in the portal's browser test; here its
findings are read from what OpenSSH's sftp prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.backups.reach import Finding, _sftp_failure, check_target, sftp_batch
from provisioner.backups.targets import add_target
from provisioner.config import Settings
from provisioner.db import transaction
from tests.support import factories
from tests.support.db import migrated
from tests.support.rest_server import add_rest_target, rest_server
from tests.support.s3_standin import s3_standin
from tests.support.stack import free_port


def test_a_rest_target_is_reached_only_with_its_admin_credentials_and_both_listeners(tmp_path: Path) -> None:
    with rest_server(tmp_path / "store") as rest, migrated("sqlite", tmp_path) as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        with transaction(url) as session:
            target = add_rest_target(session, settings, rest)
            found = check_target(settings, target)
            assert (found.reached, found.finding) == (True, Finding.REACHED)
            wrong = add_target(
                session, actor=factories.OPERATOR, settings=settings, name="wrong", kind="rest",
                path=str(rest.folder), rest_url=rest.url, rest_admin_url=rest.admin_url,
                htpasswd_file=str(rest.htpasswd), rest_admin_user="lab", rest_admin_password="not-it-4711",
            )  # fmt: skip
            refused = check_target(settings, wrong)
            assert refused.finding is Finding.CREDENTIALS_REFUSED
            assert "not-it-4711" not in refused.detail
            target.rest_url = f"http://127.0.0.1:{free_port()}"
            assert check_target(settings, target).finding is Finding.LISTENER_SILENT
            target.rest_admin_url = f"http://127.0.0.1:{free_port()}"
            assert check_target(settings, target).finding is Finding.UNREACHABLE


def test_an_s3_target_is_reached_with_a_signed_listing_and_a_missing_bucket_is_named(tmp_path: Path) -> None:
    with s3_standin(tmp_path) as s3, migrated("sqlite", tmp_path) as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        with transaction(url) as session:
            there, missing = (
                add_target(
                    session,
                    actor=factories.OPERATOR,
                    settings=settings,
                    name=name,
                    kind="s3",
                    path=f"{bucket}/lab",
                    s3_endpoint=s3.url,
                    s3_access_key_id=s3.access_key_id,
                    s3_secret_access_key=s3.secret_access_key,
                )
                for name, bucket in (("there", s3.bucket), ("missing", "no-such-bucket"))
            )
            assert check_target(settings, there).finding is Finding.REACHED
            assert check_target(settings, missing).finding is Finding.FOLDER_MISSING
            there.s3_endpoint = f"http://127.0.0.1:{free_port()}"
            assert check_target(settings, there).finding is Finding.UNREACHABLE


@pytest.mark.parametrize(
    ("stdout", "stderr", "finding"),
    [
        ("", "Host key verification failed.\r\nConnection closed", Finding.HOST_KEY_CHANGED),
        (
            "",
            "root@127.0.0.11: Permission denied (publickey).\r\nConnection closed",
            Finding.CREDENTIALS_REFUSED,
        ),
        ("", "ssh: connect to host 127.0.0.11 port 2222: Connection refused", Finding.UNREACHABLE),
        ('sftp> cd "/srv/nowhere"\n', 'File "/srv/nowhere" not found.', Finding.FOLDER_MISSING),
        (
            'sftp> cd "/srv/b"\nsftp> mkdir "/srv/b/.p"\n',
            "remote mkdir: Permission denied",
            Finding.NOT_WRITABLE,
        ),
        ("", "something else entirely", Finding.FAILED),
    ],
)
def test_what_sftp_prints_becomes_a_finding_in_our_own_words(
    stdout: str, stderr: str, finding: Finding
) -> None:
    assert _sftp_failure(stdout, stderr) is finding


def test_an_sftp_check_makes_the_targets_folder_level_by_level_where_it_is_missing() -> None:
    assert sftp_batch("/srv/backups/lab", "/srv/backups/lab/.p") == (
        '-mkdir "/srv"\n-mkdir "/srv/backups"\n-mkdir "/srv/backups/lab"\n'
        'cd "/srv/backups/lab"\nmkdir "/srv/backups/lab/.p"\nrmdir "/srv/backups/lab/.p"\n'
    )
