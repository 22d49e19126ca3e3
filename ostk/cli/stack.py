"""``ostk stack ...``: a real Keystone (and Swift) all-in-one on 127.0.0.1.

Exit codes: 0 done (``status``: every service runs); 1 ``status`` found a
service down or no stack; 2 usage; 3 local trouble (port taken, missing
program, venv build failed); 4 a service failed to start.
"""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import yaml

from ostk import output
from ostk.auth import clouds_yaml_paths, write_clouds
from ostk.environment import Environment
from ostk.errors import ExitStatus, InputError, UsageError
from ostk.http import use_deadline

CLOUD_NAME = "ostk-local"
DEVSTACK_CLOUDS = "devstack, devstack-admin, devstack-alt, devstack-system-admin"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("stack", help="run a real keystone (and swift) on 127.0.0.1")
    commands = group.add_subparsers(title="stack commands", metavar="COMMAND")

    up = commands.add_parser(
        "up", parents=[common], help="start (or restart) the stack",
        description="Start keystone (and with --swift a swift all-in-one) as plain processes on "
        "127.0.0.1. Idempotent: a running stack is left alone; dead services are restarted.",
    )
    up.add_argument("--swift", action="store_true", help="also run swift (proxy with keystone auth)")
    s3 = up.add_mutually_exclusive_group()
    s3.add_argument("--s3api", action="store_true", default=None,
                    help="serve the S3 API too (keystone EC2 credentials; implies --swift)")
    s3.add_argument("--no-s3api", dest="s3api", action="store_false", help="turn the S3 API off again")
    up.set_defaults(s3api=None)  # neither flag: keep what the stack has
    tempauth = up.add_mutually_exclusive_group()
    tempauth.add_argument("--tempauth", action="store_true", default=None,
                          help="also serve v1 auth (tempauth test accounts, as devstack; implies --swift)")
    tempauth.add_argument("--no-tempauth", dest="tempauth", action="store_false", help="turn tempauth off again")
    up.set_defaults(tempauth=None)
    up.add_argument("--db", choices=("sqlite", "mysql"), default=None,
                    help="keystone's database: sqlite (default) or mysql (MariaDB run by the stack; "
                    "fixed when the stack is created)")
    # pki engineer's hook: the proxy with ostk's pki.middleware in authtoken's place.
    pki = up.add_mutually_exclusive_group()
    pki.add_argument("--pki", action="store_true", default=None,
                     help="validate tokens in the proxy with ostk's pki.middleware (PKI/PKIZ offline, "
                     "others online; implies --swift); certificates and revocation list from the URL "
                     "'status' shows")
    pki.add_argument("--no-pki", dest="pki", action="store_false", help="back to keystonemiddleware's authtoken")
    up.set_defaults(pki=None)
    up.add_argument("--keystone-port", type=_port, metavar="PORT", help="default 5000 (or the stack's recorded port)")
    up.add_argument("--swift-port", type=_port, metavar="PORT", help="default 8080 (or the stack's recorded port)")
    _add_dir(up)
    up.set_defaults(handler=_up)

    env = commands.add_parser(
        "env", parents=[common], help="print the admin credentials as OS_* exports",
        description="Print 'export OS_...' lines for eval \"$(ostk stack env)\". --clouds-yaml prints "
        f"clouds.yaml entries instead ('{CLOUD_NAME}' and devstack's {DEVSTACK_CLOUDS}); "
        "--write-clouds-yaml adds them to your clouds.yaml.",
    )
    env.add_argument("--clouds-yaml", action="store_true",
                     help=f"print clouds.yaml entries '{CLOUD_NAME}', {DEVSTACK_CLOUDS}")
    env.add_argument(
        "--write-clouds-yaml", nargs="?", const="", metavar="FILE",
        help="add/replace the entries in FILE (default: ~/.config/openstack/clouds.yaml), mode 0600",
    )
    _add_dir(env)
    env.set_defaults(handler=_env)

    status = commands.add_parser("status", parents=[common], help="show which services run (exit 1 if any is down)")
    _add_dir(status)
    status.set_defaults(handler=_status)

    logs = commands.add_parser("logs", parents=[common], help="show a service's log (all logs' ends without SERVICE)")
    logs.add_argument("service", nargs="?", metavar="SERVICE",
                      help="keystone, memcached, account, container, object, proxy, keystone-manage, swift-rings")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    _add_dir(logs)
    logs.set_defaults(handler=_logs)

    down = commands.add_parser("down", parents=[common], help="stop the stack's processes")
    down.add_argument("--purge", action="store_true", help="also delete its data, secrets, logs and swift storage")
    _add_dir(down)
    down.set_defaults(handler=_down)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, metavar="DIR",
                        help="the stack's directory (default: $XDG_STATE_HOME/ostk/stack)")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 1-65535: {value}")
    return value


def _stack(
    args: argparse.Namespace, env: Environment, keystone_port: int | None = None, swift_port: int | None = None
) -> Any:
    # Imported here: the rest of the CLI should not pay for it.
    from stack import Stack, default_dir

    directory = args.dir if args.dir is not None else default_dir(env.environ)
    if not directory.is_absolute():
        directory = env.cwd / directory
    return Stack(directory, environ=env.environ, keystone_port=keystone_port, swift_port=swift_port)


def _up(args: argparse.Namespace, env: Environment) -> int:
    stack = _stack(args, env, keystone_port=args.keystone_port, swift_port=args.swift_port)
    # `up` builds venvs and waits for the servers it starts, each with its own
    # bound (stack.stack.START_TIMEOUT): the commands' remote-call deadline
    # (60 s by default) would cut a cold start short.
    with use_deadline(None):
        status = stack.up(swift=args.swift, s3api=args.s3api, tempauth=args.tempauth, database=args.db,
                          pki=args.pki, progress=lambda message: output.info(env, message))
    if args.json:
        output.print_json(env, _status_doc(status))
        return ExitStatus.OK
    if not status.started:
        output.info(env, "the stack is already running; nothing changed")
    _render_status(env, status)
    env.stdout.write(f"credentials: eval \"$(ostk stack env{_dir_flag(args)})\"  or  "
                     f"ostk stack env{_dir_flag(args)} --write-clouds-yaml  (then --os-cloud {CLOUD_NAME})\n")
    return ExitStatus.OK


def _env(args: argparse.Namespace, env: Environment) -> int:
    stack = _stack(args, env)
    variables = stack.os_environ()
    clouds = stack.clouds()
    if args.write_clouds_yaml is not None:
        path = Path(args.write_clouds_yaml) if args.write_clouds_yaml else clouds_yaml_paths(env.environ, env.cwd)[1]
        if not path.is_absolute():
            path = env.cwd / path
        write_clouds(path, clouds)
        output.info(env, f"wrote clouds {', '.join(clouds)} to {path}; use --os-cloud {CLOUD_NAME}")
        if not args.json and not args.clouds_yaml:
            return ExitStatus.OK
    if args.json:
        output.print_json(env, {"environ": variables, "clouds_yaml": {"clouds": clouds}})
    elif args.clouds_yaml:
        env.stdout.write(yaml.safe_dump({"clouds": clouds}, sort_keys=False))
    else:
        for key, value in variables.items():
            env.stdout.write(f"export {key}={shlex.quote(value)}\n")
    return ExitStatus.OK


def _status(args: argparse.Namespace, env: Environment) -> int:
    stack = _stack(args, env)
    status = stack.status()
    if args.json:
        output.print_json(env, _status_doc(status))
    elif not status.services:
        env.stdout.write(f"no stack in {status.directory}\n")
    else:
        _render_status(env, status)
    return ExitStatus.OK if status.running else ExitStatus.NEGATIVE


def _logs(args: argparse.Namespace, env: Environment) -> int:
    from stack.processes import follow, log_tail

    if args.tail is not None and args.tail < 0:
        raise UsageError("--tail must be 0 or more")
    stack = _stack(args, env)
    paths = stack.logs(args.service)
    if args.service is not None:
        path = paths[0]
        if not path.is_file():
            raise InputError(f"no log for {args.service} in {stack.directory} (has it run?)")
        if args.tail is not None:
            env.stdout.write("".join(line + "\n" for line in log_tail(path, args.tail)))
        else:
            try:
                for chunk in follow(path):
                    env.stdout.write(chunk.decode("utf-8", "replace"))
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}") from exc
        return ExitStatus.OK
    if not paths:
        raise InputError(f"no logs in {stack.directory} (has the stack run?)")
    for path in paths:
        env.stdout.write(f"==> {path} <==\n")
        env.stdout.write("".join(line + "\n" for line in log_tail(path, 20 if args.tail is None else args.tail)))
    return ExitStatus.OK


def _down(args: argparse.Namespace, env: Environment) -> int:
    stack = _stack(args, env)
    existed = stack.exists
    stopped = stack.down(purge=args.purge)
    purged = bool(args.purge and existed)
    if args.json:
        output.print_json(env, {"stopped": stopped, "purged": purged})
    else:
        env.stdout.write(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}\n")
        if purged:
            env.stdout.write(f"deleted the stack's files in {stack.directory}\n")
    return ExitStatus.OK


def _dir_flag(args: argparse.Namespace) -> str:
    return f" --dir {shlex.quote(str(args.dir))}" if args.dir is not None else ""


def _status_doc(status: Any) -> dict[str, Any]:
    doc: dict[str, Any] = output.to_jsonable(status)
    doc["running"] = status.running
    return doc


def _render_status(env: Environment, status: Any) -> None:
    env.stdout.write(f"stack:    {status.directory}\n")
    env.stdout.write(f"keystone: {status.keystone_url} (keystone {status.keystone_version}, {status.database})\n")
    if status.swift_url:
        env.stdout.write(f"swift:    {status.swift_url} (swift {status.swift_version}; "
                         f"storage {status.storage_dir}; storage_domain {status.storage_domain}"
                         f"{'; S3 API on' if status.s3api else ''}{'; tempauth on' if status.tempauth else ''})\n")
    if getattr(status, "pki_keystone_url", None):
        env.stdout.write(f"pki:      proxy validates with pki.middleware; PKI keystone expected at "
                         f"{status.pki_keystone_url}\n")
    width = max((len(service.name) for service in status.services), default=0)
    for service in status.services:
        state = "running" if service.running else "DOWN"
        pid = f"pid {service.pid}" if service.pid else "-"
        port = f"127.0.0.1:{service.port}" if service.port else "-"
        env.stdout.write(f"  {service.name:<{width}} {state:<8} {port:<16} {pid:<10} {service.log}\n")
