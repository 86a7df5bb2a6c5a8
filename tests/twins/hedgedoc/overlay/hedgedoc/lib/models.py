"""The stand-in's configuration and database, shared by the server and bin/manage_users.

Sources (read 2026-12-05): hedgedoc/hedgedoc at e34d4aef (docs/content/configuration.md,
lib/config/index.js, lib/config/utils.js, bin/manage_users, app.js), 1.x as released up to 1.12.0.
"""

import hashlib
import os
import secrets
import sys
from contextlib import contextmanager

import psycopg2


def flag(name, default):
    # lib/config/utils.js toBooleanConfig: a string counts as true only when it is exactly "true".
    raw = os.environ.get(name)
    return default if raw is None else raw == "true"


class Config:
    def __init__(self):
        self.db_url = os.environ.get("CMD_DB_URL", "")
        # The stand-in speaks PostgreSQL only (upstream also takes mysql:// and sqlite://).
        if not self.db_url.startswith(("postgres://", "postgresql://")):
            sys.exit("stand-in: CMD_DB_URL must be a postgres:// URL")
        self.domain = os.environ.get("CMD_DOMAIN", "")
        self.port = int(os.environ.get("CMD_PORT", "3000"))
        self.protocol_use_ssl = flag("CMD_PROTOCOL_USESSL", False)
        self.url_add_port = flag("CMD_URL_ADDPORT", False)
        self.email = flag("CMD_EMAIL", True)
        self.allow_email_register = flag("CMD_ALLOW_EMAIL_REGISTER", True)
        self.allow_anonymous = flag("CMD_ALLOW_ANONYMOUS", True)
        self.enable_stats_api = flag("CMD_ENABLE_STATS_API", True)
        self.session_secret = os.environ.get("CMD_SESSION_SECRET", "secret")
        # lib/config/index.js: the default secret is replaced by a random one, logging everyone out
        # on each start.
        if self.session_secret == "secret":
            print("Session secret not set. Using random generated one.", file=sys.stderr)
            self.session_secret = secrets.token_hex(16)
        # lib/config/index.js serverURL: scheme from protocolUseSSL, port only with urlAddPort and
        # never 80 or 443; no domain, no serverURL.
        scheme = "https" if self.protocol_use_ssl else "http"
        port = f":{self.port}" if self.url_add_port and self.port not in (80, 443) else ""
        self.server_url = f"{scheme}://{self.domain}{port}" if self.domain else ""


@contextmanager
def cursor(config):
    db = psycopg2.connect(config.db_url)
    try:
        with db, db.cursor() as cur:
            yield cur
    finally:
        db.close()


def migrate(config):
    with cursor(config) as cur:
        cur.execute(
            'CREATE TABLE IF NOT EXISTS "Users" (id text PRIMARY KEY, email text UNIQUE, password text)'
        )
        cur.execute('CREATE TABLE IF NOT EXISTS "Sessions" (sid text PRIMARY KEY, "userId" text)')
        cur.execute('CREATE TABLE IF NOT EXISTS "Notes" (id text PRIMARY KEY, "ownerId" text, content text)')


def hashed(password, salt=None):
    salt = salt or secrets.token_hex(8)
    return salt + "$" + hashlib.scrypt(password.encode(), salt=salt.encode(), n=2**14, r=8, p=1).hex()


def password_matches(stored, password):
    return secrets.compare_digest(stored, hashed(password, stored.split("$", 1)[0]))
