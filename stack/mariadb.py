"""MariaDB for keystone (``ostk stack up --db mysql``): a plain process under the stack directory.

Debian's ``mariadb-server`` (scripts/apt-packages.txt) provides the programs;
nothing of the system's MariaDB is used: ``--no-defaults`` ignores
/etc/mysql, the data directory and socket live in ``DIR/mariadb``, and the
server listens on 127.0.0.1 only. ``mariadb-install-db`` makes the system
tables once (~2 s); the server is ready well under a second after start.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ostk.errors import InputError
from stack.processes import MissingProgram, ServiceFailed
from stack.state import Layout

HOST = "127.0.0.1"
DATABASE = "keystone"
USER = "keystone"
#: AF_UNIX socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


def _program(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
        )
        if found:
            return found
    raise MissingProgram(
        f"--db mysql needs MariaDB: {names[0]} is not installed (apt-get install mariadb-server)"
    )


def server_program() -> str:
    return _program("mariadbd", "mysqld")


def data_dir(layout: Layout) -> Path:
    return layout.mariadb_dir / "data"


def socket_path(layout: Layout) -> Path:
    path = layout.mariadb_dir / "mysqld.sock"
    if len(str(path)) > MAX_SOCKET_PATH:
        raise InputError(f"the stack directory's path is too long for MariaDB's socket ({path}); use a shorter --dir")
    return path


def _os_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def install(layout: Layout, environ: Mapping[str, str]) -> None:
    """Create the system tables in ``DIR/mariadb/data`` (once)."""
    target = data_dir(layout)
    if (target / "mysql").is_dir():
        return
    program = _program("mariadb-install-db", "mysql_install_db")
    layout.mariadb_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = layout.log("mariadb-install")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        result = subprocess.run(
            [program, "--no-defaults", f"--datadir={target}", f"--user={_os_user()}",
             # The OS user connects through the socket without a password.
             "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve"],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(environ),
            timeout=300, check=False,
        )
    if result.returncode != 0:
        raise ServiceFailed("mariadb", f"mariadb-install-db exited with {result.returncode}", log)


def server_argv(layout: Layout, port: int) -> list[str]:
    """The server in the foreground, logging to stdout; small buffers (a test database)."""
    argv = [
        server_program(), "--no-defaults",
        f"--datadir={data_dir(layout)}",
        f"--socket={socket_path(layout)}",
        f"--pid-file={layout.mariadb_dir / 'mysqld.pid'}",
        f"--port={port}",
        f"--bind-address={HOST}",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        # Durability against power loss is not what a test stack needs.
        "--innodb-flush-log-at-trx-commit=2",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--max-connections=200",
    ]
    if os.geteuid() == 0:
        # mysqld refuses to run as root unless told to.
        argv.append("--user=root")
    return argv


def create_database(layout: Layout, password: str, environ: Mapping[str, str]) -> None:
    """The keystone database and its user (idempotent; the password is reset each time)."""
    client = _program("mariadb", "mysql")
    quoted = password.replace("\\", "\\\\").replace("'", "\\'")
    sql = (
        f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4;\n"
        f"CREATE USER IF NOT EXISTS '{USER}'@'{HOST}' IDENTIFIED BY '{quoted}';\n"
        f"ALTER USER '{USER}'@'{HOST}' IDENTIFIED BY '{quoted}';\n"
        f"GRANT ALL PRIVILEGES ON {DATABASE}.* TO '{USER}'@'{HOST}';\n"
    )
    log = layout.log("mariadb-install")
    with open(log, "ab") as sink:
        # The SQL (with the password) goes through stdin, not argv.
        result = subprocess.run(
            [client, "--no-defaults", f"--socket={socket_path(layout)}", "-u", _os_user()],
            input=sql.encode(), stdout=sink, stderr=subprocess.STDOUT, env=dict(environ),
            timeout=120, check=False,
        )
    if result.returncode != 0:
        raise ServiceFailed("mariadb", f"creating the keystone database failed ({result.returncode})", log)


def connection_url(port: int, password: str) -> str:
    """SQLAlchemy URL for keystone (PyMySQL is pinned in keystone's venv)."""
    from urllib.parse import quote

    return f"mysql+pymysql://{USER}:{quote(password, safe='')}@{HOST}:{port}/{DATABASE}?charset=utf8mb4"
