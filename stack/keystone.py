"""Keystone: configuration, bootstrap and the gunicorn command line.

Choices (see DESIGN.md, "The real services to test against"): sqlite; fernet
tokens; bcrypt with 4 rounds (the default 12 costs ~0.25 s per login);
``max_password_length = 72`` (bcrypt's limit; silences a warning per request).

Served as devstack serves it (openstack/devstack lib/apache
``write_uwsgi_config``: ``processes = $API_WORKERS``, no threads; lib/keystone
``[cache]`` on memcached): :data:`WORKERS` processes that each handle one
request at a time, sharing the stack's memcached (stack/memcached.py). Not
threads: with gunicorn's threaded worker (4 threads, one process) tempest's
identity tests at ``--concurrency 4`` failed now and then, with a role
assignment or a user keystone had just written "not found" (e.g.
``Could not find role assignment`` for an application credential's own
role); with single-request workers they pass. Without memcached the stack
runs one such worker with an in-process cache (a second process would hold
a second, stale cache).
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ostk.files import atomic_write, ensure_private_dir
from stack.processes import ServiceFailed
from stack.state import Layout, Secrets

HOST = "127.0.0.1"

#: The app-loading shim gunicorn imports. Two jobs:
#:
#: * oslo.config parses sys.argv when keystone is imported, so gunicorn's own
#:   arguments would make every worker exit with "unrecognized arguments".
#: * Safe sqlite writes under concurrent requests. oslo.db (18.x,
#:   oslo_db/sqlalchemy/engines.py, ``_init_events`` for sqlite) turns off
#:   pysqlite's own transaction handling and emits a plain deferred ``BEGIN``.
#:   A deferred transaction that reads first and then writes (keystone's
#:   ``UPDATE user SET last_active_at`` on every token issue) cannot wait for
#:   the write lock: sqlite answers SQLITE_BUSY at once, keystone answers 500
#:   "database is locked". ``BEGIN IMMEDIATE`` takes the write lock at the
#:   start, where the busy timeout lets it wait its turn. The listeners are
#:   class-level (every engine keystone creates), registered before keystone
#:   is imported, and act only on sqlite connections: MySQL is left alone.
WSGI_SHIM = '''"""Keystone's WSGI app for gunicorn, written by ostk stack (see stack/keystone.py)."""
import sqlite3
import sys

sys.argv = sys.argv[:1]

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

BUSY_TIMEOUT_MS = 60000


@event.listens_for(Engine, "connect")
def _wait_for_sqlite_locks(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _immediate_sqlite_transactions(conn, _cursor, statement, parameters, _context, _executemany):
    if conn.dialect.name == "sqlite" and statement.strip().upper() == "BEGIN":
        statement = "BEGIN IMMEDIATE"
    return statement, parameters


from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()
'''

SHIM_MODULE = "ostk_keystone_wsgi"


def base_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def v3_url(port: int) -> str:
    return f"{base_url(port)}/v3"


#: devstack's [security_compliance] (openstack/devstack lib/keystone:
#: KEYSTONE_LOCKOUT_FAILURE_ATTEMPTS=2, KEYSTONE_LOCKOUT_DURATION=10,
#: KEYSTONE_UNIQUE_LAST_PASSWORD_COUNT=2); tempest's [identity] user_* options
#: must carry the same values (devstack lib/tempest writes them so).
LOCKOUT_FAILURE_ATTEMPTS = 2
LOCKOUT_DURATION = 10
UNIQUE_LAST_PASSWORD_COUNT = 2
#: Days before a password may be changed again; 0 as in devstack (tempest's
#: user_minimum_password_age default), else every password-change test waits.
MINIMUM_PASSWORD_AGE = 0


def sqlite_url(layout: Layout) -> str:
    return f"sqlite:///{layout.keystone_dir / 'keystone.db'}"


#: Keystone's worker processes with a shared memcached: devstack's API_WORKERS
#: (openstack/devstack stackrc: a quarter of the CPUs, at least 2).
WORKERS = max(2, (os.cpu_count() or 1) // 4)


def workers(memcached_port: int | None) -> int:
    """How many processes serve keystone: several only when they share a memcached."""
    return WORKERS if memcached_port else 1


def cache_section(memcached_port: int | None) -> str:
    if memcached_port:
        # python-memcached (pinned in keystone's venv), as devstack installs it.
        return f"backend = dogpile.cache.memcached\nmemcache_servers = {HOST}:{memcached_port}\n"
    # memory_pickle, not memory: the plain in-memory backend hands out the
    # cached objects themselves, and keystone mutates some it gets back (role
    # lists for application credentials: tempest's app-cred and access-rule
    # tests then fail with "unassigned role"). Pickled copies behave like
    # memcached's.
    return "backend = dogpile.cache.memory_pickle\n"


def config_text(layout: Layout, port: int, connection: str | None = None, memcached_port: int | None = None) -> str:
    kdir = layout.keystone_dir
    return f"""# Written by 'ostk stack up'; rewritten on every up.
[DEFAULT]
log_file = {layout.log("keystone")}
use_stderr = false
debug = false

[database]
connection = {connection or sqlite_url(layout)}
# sqlite only: no fsync per commit. A test stack survives a killed keystone
# (the OS still has the writes), and writers serialised by BEGIN IMMEDIATE
# wait less.
sqlite_synchronous = false

[token]
provider = fernet

[fernet_tokens]
key_repository = {kdir / "fernet-keys"}

[fernet_receipts]
key_repository = {kdir / "fernet-keys"}

[credential]
key_repository = {kdir / "credential-keys"}

[identity]
password_hash_rounds = 4
max_password_length = 72

[cache]
enabled = true
{cache_section(memcached_port)}
[security_compliance]
lockout_failure_attempts = {LOCKOUT_FAILURE_ATTEMPTS}
lockout_duration = {LOCKOUT_DURATION}
unique_last_password_count = {UNIQUE_LAST_PASSWORD_COUNT}
minimum_password_age = {MINIMUM_PASSWORD_AGE}

[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
"""


def write_files(
    layout: Layout, port: int, connection: str | None = None, memcached_port: int | None = None
) -> Path:
    """Write keystone.conf (0600: a MariaDB URL holds a password) and the WSGI shim."""
    kdir = ensure_private_dir(layout.keystone_dir)
    conf = kdir / "keystone.conf"
    atomic_write(conf, config_text(layout, port, connection, memcached_port), mode=0o600)
    atomic_write(kdir / f"{SHIM_MODULE}.py", WSGI_SHIM, mode=0o600)
    return conf


def environ(layout: Layout, base: Mapping[str, str]) -> dict[str, str]:
    """The environment keystone's processes run with."""
    env = {k: v for k, v in base.items() if not k.startswith("OS_")}
    env["OS_KEYSTONE_CONFIG_FILES"] = str(layout.keystone_dir / "keystone.conf")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


#: keystone-manage's steps in one interpreter: each separate run costs 2-4 s
#: of imports, the steps themselves well under a second together.
#: argv: config file, JSON list of argument lists.
#: The pseudo-step ``["ostk-copy", SRC, DEST]`` copies a file atomically (the
#: schema template, see :func:`bootstrap`).
MANAGE_SCRIPT = """
import json, os, shutil, sys, warnings
warnings.simplefilter("ignore")
from keystone.cmd import cli
for step in json.loads(sys.argv[2]):
    if step[0] == "ostk-copy":
        tmp = "%s.%d.tmp" % (step[2], os.getpid())  # concurrent stacks share the template
        shutil.copyfile(step[1], tmp)
        os.replace(tmp, step[2])
        continue
    print("$ keystone-manage " + " ".join(step), flush=True)
    cli.CONF.clear()  # lets the next step parse its own arguments
    cli.main(argv=["keystone-manage", "--config-file", sys.argv[1], *step])
"""


def schema_template(python: Path) -> Path:
    """Where a freshly db_synced (empty, secret-free) sqlite database is kept for this keystone venv."""
    return python.parent.parent / "ostk-keystone-schema.db"


def bootstrap(
    python: Path, layout: Layout, secrets: Secrets, port: int, base_environ: Mapping[str, str], *, sqlite: bool = True
) -> None:
    """db_sync, key repositories, and the admin user/project, RegionOne, identity endpoint.

    On sqlite, the schema db_sync builds (the same for every stack of a
    keystone venv, no data, no secrets) is kept beside the venv after the
    first stack and copied for later ones: db_sync is ~1.5 s of a warm ``up``.
    """
    conf = str(layout.keystone_dir / "keystone.conf")
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    url = v3_url(port) + "/"
    env = environ(layout, base_environ)
    database = str(layout.keystone_dir / "keystone.db")
    template = schema_template(python)
    schema: list[list[str]] = [["db_sync"]]
    if sqlite and template.is_file():
        schema = [["ostk-copy", str(template), database]]
    elif sqlite:
        schema = [["db_sync"], ["ostk-copy", database, str(template)]]
    steps = [
        *schema,
        ["fernet_setup", "--keystone-user", user, "--keystone-group", group],
        ["credential_setup", "--keystone-user", user, "--keystone-group", group],
        [
            "bootstrap",
            "--bootstrap-username", "admin",
            "--bootstrap-project-name", "admin",
            "--bootstrap-role-name", "admin",
            "--bootstrap-service-name", "keystone",
            "--bootstrap-region-id", "RegionOne",
            "--bootstrap-admin-url", url,
            "--bootstrap-internal-url", url,
            "--bootstrap-public-url", url,
        ],
    ]
    # The password goes through the environment, not argv (visible in ps).
    env["OS_BOOTSTRAP_PASSWORD"] = secrets.admin_password
    log = layout.log("keystone-manage")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        try:
            result = subprocess.run(
                [str(python), "-c", MANAGE_SCRIPT, conf, json.dumps(steps)],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=layout.keystone_dir, timeout=300, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceFailed("keystone", "keystone-manage took more than 300 s", log) from exc
    if result.returncode != 0:
        # keystone logs its own errors to keystone.log, tracebacks of the
        # command itself land in keystone-manage.log.
        raise ServiceFailed(
            "keystone", f"keystone-manage exited with {result.returncode} (see also {log})", layout.log("keystone")
        )


def server_argv(python: Path, layout: Layout, port: int, *, processes: int = 1) -> list[str]:
    """gunicorn serving keystone on 127.0.0.1:port: ``processes`` single-request workers (module doc)."""
    return [
        str(python), "-m", "gunicorn",
        "--bind", f"{HOST}:{port}",
        "--workers", str(processes),
        # One request per process at a time, as under devstack's uwsgi.
        "--worker-class", "sync",
        "--timeout", "120",
        # gunicorn 27 otherwise writes a control socket under the home directory.
        "--no-control-socket",
        "--chdir", str(layout.keystone_dir),
        "--pythonpath", str(layout.keystone_dir),
        "--error-logfile", "-",
        f"{SHIM_MODULE}:application",
    ]

