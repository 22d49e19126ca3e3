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
from collections.abc import Mapping
from pathlib import Path

from ostk.files import atomic_write, ensure_private_dir
from stack.state import Layout, Secrets

HOST = "127.0.0.1"

#: The app-loading shim gunicorn imports (in its master: ``--preload``). Its jobs:
#:
#: * oslo.config parses sys.argv when keystone is imported, so gunicorn's own
#:   arguments would make it exit with "unrecognized arguments".
#: * Database connections opened while loading are closed before gunicorn
#:   forks the workers (a connection must never be shared across a fork).
#: * oslo.policy's rules are built once, before the fork, not per worker.
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

import weakref  # noqa: E402

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

BUSY_TIMEOUT_MS = 60000
_ENGINES = weakref.WeakSet()


@event.listens_for(Engine, "engine_connect")
def _remember_engine(connection):
    _ENGINES.add(connection.engine)


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

# What keystone builds on its first policy check (oslo.policy's ~400 rules),
# built once here instead of in every worker's first request (~0.2 s each).
# Keystone internals: if they move, the workers build it themselves.
try:
    from keystone.common.rbac_enforcer import enforcer as _rbac

    _rbac.RBACEnforcer()._enforcer.load_rules()
except Exception:  # noqa: BLE001
    pass

# gunicorn loads this in its master (--preload) and forks the workers from it:
# the connection keystone opened while loading (its project-depth check) must
# not be shared by them; each worker opens its own.
for _engine in list(_ENGINES):
    _engine.dispose()
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


#: The keystone service's program. Importing keystone costs ~2.3 s of CPU;
#: this pays it once per start. It imports keystone and gunicorn, runs
#: keystone-manage's steps in a forked child if ``bootstrap.json`` asks for
#: them (first start: their global state dies with the child), then becomes
#: gunicorn's master, which loads the app (``--preload``) and forks workers
#: that inherit it all. Before: keystone-manage, then every worker, each
#: imported keystone anew.
#: argv: keystone's directory, then gunicorn's arguments.
#: Two steps of its own: ``["ostk-copy", SRC, DEST]`` copies a file
#: atomically (the schema template, see :func:`bootstrap_steps`);
#: ``["ostk-wait-for", PATH, SECONDS]`` waits for a file (MariaDB, started
#: meanwhile, is ready).
LAUNCHER = """
import json, os, shutil, sys, time, traceback, warnings
warnings.simplefilter("ignore")
from keystone.cmd import cli
from keystone.server import wsgi  # noqa: F401 (for the workers to inherit)
from gunicorn.app.wsgiapp import run


def step(plan, argv):
    if argv[0] == "ostk-wait-for":  # a file another process writes when it is done (MariaDB ready)
        deadline = time.monotonic() + float(argv[2])
        while not os.path.exists(argv[1]):
            if time.monotonic() > deadline:
                sys.exit("gave up waiting for %s" % argv[1])
            time.sleep(0.05)
        return
    if argv[0] == "ostk-copy":
        tmp = "%s.%d.tmp" % (argv[2], os.getpid())  # concurrent stacks share the template
        shutil.copyfile(argv[1], tmp)
        os.replace(tmp, argv[2])
        return
    print("$ keystone-manage " + " ".join(argv), flush=True)
    cli.CONF.clear()  # lets each step parse its own arguments
    try:
        cli.main(argv=["keystone-manage", "--config-file", plan["config"], *argv])
    except SystemExit as exc:
        if exc.code:
            raise


def manage(plan):
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    code = 1
    try:
        log = os.open(plan["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ["OS_BOOTSTRAP_PASSWORD"] = plan["password"]  # this child's only
        for argv in plan["steps"]:
            step(plan, argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


plan_file = os.path.join(sys.argv[1], "bootstrap.json")
if os.path.exists(plan_file):
    with open(plan_file) as f:
        plan = json.load(f)
    os.unlink(plan_file)  # it holds the admin password; a failed start writes it again
    status = manage(plan)
    if status:
        print("keystone-manage failed with status %d (see %s)" % (status, plan["log"]), flush=True)
        sys.exit(3)
sys.argv = ["gunicorn", *sys.argv[2:]]
run()
"""

BOOTSTRAP_PLAN = "bootstrap.json"


def schema_template(python: Path) -> Path:
    """Where a freshly db_synced (empty, secret-free) sqlite database is kept for this keystone venv."""
    return python.parent.parent / "ostk-keystone-schema.db"


def bootstrap_steps(python: Path, layout: Layout, port: int, *, sqlite: bool = True) -> list[list[str]]:
    """keystone-manage's steps for a new keystone (run by :data:`LAUNCHER`, see :func:`write_plan`).

    db_sync, key repositories, and the admin user/project, RegionOne,
    identity endpoint. On sqlite, the schema db_sync builds (the same for
    every stack of a keystone venv, no data, no secrets) is kept beside the
    venv after the first stack and copied for later ones: db_sync is ~1.5 s
    of a warm ``up``.
    """
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    url = v3_url(port) + "/"
    database = str(layout.keystone_dir / "keystone.db")
    template = schema_template(python)
    schema: list[list[str]] = [["db_sync"]]
    if sqlite and template.is_file():
        schema = [["ostk-copy", str(template), database]]
    elif sqlite:
        schema = [["db_sync"], ["ostk-copy", database, str(template)]]
    return [
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


def write_plan(layout: Layout, steps: list[list[str]], secrets: Secrets) -> Path:
    """Ask the next keystone start to run ``steps`` before it serves (see :data:`LAUNCHER`).

    The plan holds the admin password (for ``OS_BOOTSTRAP_PASSWORD``, never
    argv), so it is 0600 and the launcher deletes it once read.
    """
    plan = {
        "config": str(layout.keystone_dir / "keystone.conf"),
        "log": str(layout.log("keystone-manage")),
        "steps": steps,
        "password": secrets.admin_password,
    }
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    path = layout.keystone_dir / BOOTSTRAP_PLAN
    atomic_write(path, json.dumps(plan), mode=0o600)
    return path


def database_ready_flag(layout: Layout) -> Path:
    """Written once MariaDB serves keystone's database; the launcher waits for it."""
    return layout.keystone_dir / "database-ready"


def server_argv(python: Path, layout: Layout, port: int, *, processes: int = 1) -> list[str]:
    """Keystone on 127.0.0.1:port: :data:`LAUNCHER`, then gunicorn with ``processes`` single-request workers."""
    return [
        str(python), "-c", LAUNCHER, str(layout.keystone_dir),
        "--bind", f"{HOST}:{port}",
        "--workers", str(processes),
        # One request per process at a time, as under devstack's uwsgi.
        "--worker-class", "sync",
        "--preload",
        "--timeout", "120",
        # gunicorn 27 otherwise writes a control socket under the home directory.
        "--no-control-socket",
        "--chdir", str(layout.keystone_dir),
        "--pythonpath", str(layout.keystone_dir),
        "--error-logfile", "-",
        f"{SHIM_MODULE}:application",
    ]
