"""Swift all-in-one: swift.conf, rings, server configs and command lines.

One device, one replica, part power 8: the smallest cluster Swift's
functional tests accept. Two storage policies (gold, silver) so the
multi-policy tests run. The proxy authenticates with keystonemiddleware's
authtoken + keystoneauth and enables every middleware the functional tests
probe for through ``/info``.
"""
from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ostk.errors import InputError
from ostk.files import atomic_write, ensure_private_dir
from stack.processes import ServiceFailed
from stack.state import Layout, Secrets

HOST = "127.0.0.1"
DEVICE = "sdb1"
#: domain_remap's storage domain (write it as storage_domain in test.conf).
STORAGE_DOMAIN = "example.net"
POLICIES = ("gold", "silver")
BACKENDS = ("account", "container", "object")
#: Background daemons without a port (started after the backends).
DAEMONS = ("container-sync",)
#: Seconds between container-sync passes (Swift's default 300 s would make
#: tempest's container-sync test wait minutes; devstack's tests poll every 5 s).
CONTAINER_SYNC_INTERVAL = 5
#: container-sync-realms.conf: the realm and cluster names tempest's
#: [object-storage] realm_name/cluster_name default to (devstack lib/swift).
SYNC_REALM = "realm1"
SYNC_CLUSTER = "name1"
#: tempauth's reseller prefix (devstack lib/swift), beside keystone's AUTH_.
TEMPAUTH_PREFIX = "TEMPAUTH"
#: tempauth test accounts: Swift's sample test.conf names (account, user,
#: password, groups). Well-known passwords, as in devstack and Swift's own
#: sample config: the proxy listens on 127.0.0.1 only.
TEMPAUTH_USERS = (
    ("test", "tester", "testing", ".admin"),
    ("test2", "tester2", "testing2", ".admin"),
    ("test", "tester3", "testing3", ""),
    ("test5", "tester5", "testing5", ".reseller_admin"),
)
#: Suffix of the file beside a storage directory (``<dir>.ostk-stack``) that
#: lets ``down --purge`` prove a directory outside the stack directory is the
#: stack's own. Beside, not inside: Swift takes every entry of its devices
#: directory for a device.
STORAGE_MARKER_SUFFIX = ".ostk-stack"


def storage_marker(storage: Path) -> Path:
    return storage.with_name(storage.name + STORAGE_MARKER_SUFFIX)

#: Modules whose main() runs each server; the venv's scripts have stale shebangs.
SERVER_MODULES = {
    "account": "swift.account.server",
    "container": "swift.container.server",
    "object": "swift.obj.server",
    "proxy": "swift.proxy.server",
}
#: Entry points of the daemons (run with ``-v`` in the foreground).
DAEMON_MODULES = {"container-sync": "swift.container.sync"}
SERVER_MODULES.update(DAEMON_MODULES)

PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache etag-quoter domain_remap "
    "listing_formats container_sync bulk tempurl formpost ratelimit crossdomain authtoken s3api s3token keystoneauth "
    "tempauth "
    "staticweb copy container-quotas account-quotas slo dlo versioned_writes symlink "
    "proxy-logging proxy-server"
)

# Builds every ring in one interpreter start (swift-ring-builder would take
# one start per command). Arguments: swift_dir, then name=port pairs.
RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder
swift_dir = sys.argv[1]
for pair in sys.argv[2:]:
    name, port = pair.split("=")
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                     "port": int(port), "device": "DEVICE", "weight": 1.0})
    builder.rebalance()
    builder.save(f"{swift_dir}/{name}.builder")
    builder.get_ring().save(f"{swift_dir}/{name}.ring.gz")
""".replace("DEVICE", DEVICE)


def default_storage_dir(root: Path) -> Path:
    """A tmpfs directory for the stack rooted at ``root`` (ext4's xattrs are too small).

    /dev/shm is a tmpfs writable without root; elsewhere we fall back to the
    stack directory, where 4 of Swift's metadata tests may fail with 503.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
        return shm / f"ostk-stack-{os.getuid()}-{digest}"
    return root / "storage"


def claim_storage(storage: Path, root: Path) -> None:
    """Create ``storage`` (if new) and mark it as the stack's; refuse a directory that is not ours."""
    marker = storage_marker(storage)
    # The default tmpfs path is derived from the stack directory itself, so a
    # stack made before markers existed may adopt it.
    derived = storage == default_storage_dir(root)
    if storage.is_dir() and any(storage.iterdir()) and not derived and not owns_storage(storage, root):
        raise InputError(f"{storage} holds other things and is not this stack's storage; not using it")
    storage.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not marker.is_file():
        atomic_write(marker, f"{root.resolve()}\n", mode=0o600)


def owns_storage(storage: Path, root: Path) -> bool:
    """True if the stack rooted at ``root`` created ``storage`` and may delete it.

    Inside the stack directory (symlinks resolved), or a directory on a
    tmpfs carrying our marker naming this very stack directory. A path read
    from a tampered state.json passes neither.
    """
    try:
        resolved = storage.resolve(strict=True)
        root = root.resolve(strict=True)
    except OSError:
        return False
    if storage.is_symlink():
        return False
    if resolved != root and resolved.is_relative_to(root):
        return True
    try:
        recorded = storage_marker(resolved).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == str(root) and _on_tmpfs(resolved)


def _on_tmpfs(path: Path) -> bool:
    """The filesystem holding ``path`` is a tmpfs (longest matching mount point in /proc/mounts)."""
    best, fstype = "", ""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    text = str(path)
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (text == point or text.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype == "tmpfs"


def container_sync_realms(swift_port: int) -> str:
    return (
        "# Written by 'ostk stack up'. Contains the realm key: keep 0600.\n"
        f"[{SYNC_REALM}]\nkey = {SYNC_REALM}key\n"
        f"cluster_{SYNC_CLUSTER} = http://{HOST}:{swift_port}/v1/\n"
    )


def container_sync_conf(layout: Layout, storage: Path, internal_client: Path, container_port: int) -> str:
    return f"""# Written by 'ostk stack up'; rewritten on every up.
[DEFAULT]
# The container server's address: the daemon syncs only containers the ring
# places on a device it takes for its own (swift.container.sync, is_local_device).
bind_ip = {HOST}
bind_port = {container_port}
mount_check = false
devices = {storage}
swift_dir = {layout.swift_dir}
log_name = container-sync
# Daemons drop privileges to this user (default 'swift', absent here).
user = {pwd.getpwuid(os.getuid()).pw_name}

[container-sync]
interval = {CONTAINER_SYNC_INTERVAL}
internal_client_conf_path = {internal_client}
"""


def internal_client_conf(layout: Layout, memcached_port: int | None) -> str:
    """The proxy pipeline container-sync uses to read objects (no auth, in process)."""
    memcache = f"{HOST}:{memcached_port}" if memcached_port else "127.0.0.1:1"
    return f"""# Written by 'ostk stack up'; rewritten on every up.
[DEFAULT]
swift_dir = {layout.swift_dir}

[pipeline:main]
pipeline = catch_errors proxy-logging cache symlink proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:cache]
use = egg:swift#memcache
memcache_servers = {memcache}

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:symlink]
use = egg:swift#symlink
"""


def swift_conf(secrets: Secrets) -> str:
    policies = "".join(
        f"\n[storage-policy:{index}]\nname = {name}\n" + ("default = yes\n" if index == 0 else "")
        for index, name in enumerate(POLICIES)
    )
    return (
        "# Written by 'ostk stack up'.\n[swift-hash]\n"
        f"swift_hash_path_suffix = {secrets.swift_hash_suffix}\n"
        f"swift_hash_path_prefix = {secrets.swift_hash_prefix}\n"
        f"{policies}"
    )


#: Backend-to-backend timeouts. The object server updates the container
#: listing inline, but gives up after ``container_update_timeout`` (Swift's
#: default: 1 s) and queues the update for a replicator we do not run: on a
#: loaded test machine a fresh object is then missing from its listing
#: (openstacksdk's object tests saw it). Generous, as for the proxy's.
BACKEND_TIMEOUTS = "conn_timeout = 5\nnode_timeout = 60\n"
OBJECT_TIMEOUTS = "container_update_timeout = 60\n"


def backend_conf(kind: str, port: int, layout: Layout, storage: Path) -> str:
    extra = "allow_versions = true\n" if kind == "container" else ""
    extra += BACKEND_TIMEOUTS + (OBJECT_TIMEOUTS if kind == "object" else "")
    module = "object" if kind == "object" else kind
    return f"""# Written by 'ostk stack up'; rewritten on every up.
[DEFAULT]
bind_ip = {HOST}
bind_port = {port}
workers = 0
mount_check = false
devices = {storage}
swift_dir = {layout.swift_dir}
log_name = {kind}-server

[pipeline:main]
pipeline = healthcheck {kind}-server

[app:{kind}-server]
use = egg:swift#{module}
{extra}
[filter:healthcheck]
use = egg:swift#healthcheck
"""


def proxy_conf(
    layout: Layout,
    *,
    port: int,
    keystone_port: int,
    memcached_port: int | None,
    secrets: Secrets,
    s3api: bool = False,
    tempauth: bool = False,
    pki_port: int | None = None,
) -> str:
    memcache = f"{HOST}:{memcached_port}" if memcached_port else ""
    pipeline = PIPELINE
    if not s3api:
        pipeline = pipeline.replace(" s3api s3token ", " ")
    if not tempauth:
        pipeline = pipeline.replace(" tempauth ", " ")
    tempauth_users = "".join(
        f"user_{account}_{user} = {password}{' ' + groups if groups else ''}\n"
        for account, user, password, groups in TEMPAUTH_USERS
    )
    if not memcache:
        # Without a memcached both would retry an absent server on every request.
        pipeline = pipeline.replace(" cache ", " ").replace(" ratelimit ", " ")
    # Swift's own memcache client (set up by the cache filter) serves authtoken
    # too; memcached_servers would need python-memcached in the venv.
    authtoken_cache = "cache = swift.cache\n" if memcache else ""
    keystone = f"http://{HOST}:{keystone_port}"
    # 'up --pki': ostk's pki.middleware in authtoken's place, same options.
    authtoken_factory = (
        "paste.filter_factory = pki.middleware:filter_factory\n"
        f"pki_keystone_url = http://{HOST}:{pki_port}\n"
        f"signing_dir = {layout.swift_dir / 'pki'}\n"
        "revocation_cache_time = 2\n"
        # A test stack: a PKI keystone gone for 10 s already refuses tokens (503).
        "revocation_max_age = 10\n"
        f"{f'memcached_servers = {memcache}' if memcache else ''}\n"
        if pki_port else "paste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
    )
    return f"""# Written by 'ostk stack up'; rewritten on every up. Contains a password: keep 0600.
[DEFAULT]
bind_ip = {HOST}
bind_port = {port}
workers = 0
swift_dir = {layout.swift_dir}
log_name = proxy-server

[pipeline:main]
pipeline = {pipeline}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# Off (the default): Swift's functional tests then also check that account
# PUT is refused; nothing in them needs account management.
allow_account_management = false
allow_open_expired = true
# Swift's defaults (0.5 s to connect, 10 s per node) are tuned for dedicated
# storage nodes; on a loaded 2-core test machine they turn slow backend
# answers into spurious 503s (seen once in ~1000 functional tests).
conn_timeout = 5
node_timeout = 60
recoverable_node_timeout = 60

[filter:authtoken]
{authtoken_factory}www_authenticate_uri = {keystone}/v3
auth_url = {keystone}
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = swift
password = {secrets.swift_service_password}
region_name = RegionOne
interface = public
{authtoken_cache}delay_auth_decision = True
# keystonemiddleware 13 otherwise rejects the plain user tokens that Swift's
# RBAC functional tests send as service tokens.
service_token_roles_required = False
include_service_catalog = False

# S3 API through keystone EC2 credentials; in the pipeline only with
# 'ostk stack up --s3api' (Swift's s3api functional tests then need test.conf's
# s3_access_key/s3_secret_key to be a keystone EC2 credential).
[filter:s3api]
use = egg:swift#s3api

[filter:s3token]
use = egg:swift#s3token
reseller_prefix = AUTH_
delay_auth_decision = False
auth_uri = {keystone}/v3
http_timeout = 10.0
# Recent keystones want a service user for /v3/s3tokens.
auth_url = {keystone}
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = swift
password = {secrets.swift_service_password}
secret_cache_duration = {60 if memcache else 0}

# v1 auth (/auth/v1.0) for clients that speak it; in the pipeline only with
# 'ostk stack up --tempauth' (devstack runs it beside keystoneauth too).
[filter:tempauth]
use = egg:swift#tempauth
reseller_prefix = {TEMPAUTH_PREFIX}
account_autocreate = true
{tempauth_users}
[filter:crossdomain]
use = egg:swift#crossdomain

[filter:keystoneauth]
use = egg:swift#keystoneauth
reseller_prefix = AUTH, SERVICE
operator_roles = admin, member
reseller_admin_role = ResellerAdmin
SERVICE_service_roles = service

[filter:cache]
use = egg:swift#memcache
memcache_servers = {memcache or "127.0.0.1:1"}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging
# Log no part of tokens (swift logs their first 16 characters by default).
reveal_sensitive_prefix = 0

[filter:etag-quoter]
use = egg:swift#etag_quoter

[filter:domain_remap]
use = egg:swift#domain_remap
storage_domain = {STORAGE_DOMAIN}
reseller_prefixes = AUTH, SERVICE, {TEMPAUTH_PREFIX}

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:container_sync]
use = egg:swift#container_sync

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:formpost]
use = egg:swift#formpost

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:staticweb]
use = egg:swift#staticweb

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true

[filter:symlink]
use = egg:swift#symlink
"""


def write_files(
    layout: Layout,
    secrets: Secrets,
    *,
    storage: Path,
    swift_port: int,
    keystone_port: int,
    ports: Mapping[str, int],
    s3api: bool = False,
    tempauth: bool = False,
    pki_port: int | None = None,
) -> None:
    """Write swift.conf and every server's config (all 0600)."""
    sdir = ensure_private_dir(layout.swift_dir)
    claim_storage(storage, layout.root)
    (storage / DEVICE).mkdir(parents=True, exist_ok=True)
    atomic_write(sdir / "swift.conf", swift_conf(secrets), mode=0o600)
    atomic_write(sdir / "container-sync-realms.conf", container_sync_realms(swift_port), mode=0o600)
    internal_client = sdir / "internal-client.conf"
    atomic_write(internal_client, internal_client_conf(layout, ports.get("memcached")), mode=0o600)
    atomic_write(sdir / "container-sync.conf", container_sync_conf(layout, storage, internal_client, ports["container"]), mode=0o600)
    for kind in BACKENDS:
        atomic_write(sdir / f"{kind}-server.conf", backend_conf(kind, ports[kind], layout, storage), mode=0o600)
    atomic_write(
        sdir / "proxy-server.conf",
        proxy_conf(layout, port=swift_port, keystone_port=keystone_port,
                   memcached_port=ports.get("memcached"), secrets=secrets, s3api=s3api, tempauth=tempauth,
                   pki_port=pki_port),
        mode=0o600,
    )


def ring_names() -> dict[str, str]:
    """Ring file stem -> the backend whose port it points at."""
    names = {"account": "account", "container": "container"}
    for index, _ in enumerate(POLICIES):
        names["object" if index == 0 else f"object-{index}"] = "object"
    return names


def build_rings(python: Path, layout: Layout, ports: Mapping[str, int], environ: Mapping[str, str]) -> None:
    """Build any missing ring (a ring records the ports, so it is kept across ups)."""
    missing = [
        f"{stem}={ports[backend]}"
        for stem, backend in ring_names().items()
        if not (layout.swift_dir / f"{stem}.ring.gz").is_file()
    ]
    if not missing:
        return
    log = layout.log("swift-rings")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        result = subprocess.run(
            [str(python), "-c", RING_SCRIPT, str(layout.swift_dir), *missing],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(environ), timeout=300, check=False,
        )
    if result.returncode != 0:
        raise ServiceFailed("swift rings", f"ring building exited with {result.returncode}", log)


def ostk_import_paths() -> list[str]:
    """For 'up --pki': where the proxy finds ostk's pki.middleware. The tree
    holding ostk's packages first, then this interpreter's site-packages
    *after* swift's own (swift's versions win; ours fill gaps like asn1crypto)."""
    import sysconfig

    root = str(Path(__file__).resolve().parents[1])
    extra = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return [root] + [p for p in dict.fromkeys(extra) if p != root]


def server_argv(python: Path, layout: Layout, kind: str, *, ostk_paths: bool = False) -> list[str]:
    """Run one swift server in the foreground; ``-v`` logs to stdout (no /dev/log here).

    Swift reads storage policies from /etc/swift/swift.conf when it is
    imported and ``swift_dir`` does not reload them, so the launcher points
    swift at our swift.conf and reloads the policies before starting.
    """
    code = (
        "import sys\n"
        + (f"sys.path.insert(1, {ostk_import_paths()[0]!r}); sys.path.extend({ostk_import_paths()[1:]!r})\n"
           if ostk_paths else "")
        + "from swift.common.utils import set_swift_dir\n"
        "from swift.common.storage_policy import reload_storage_policies\n"
        "set_swift_dir(sys.argv[1])\n"
        "reload_storage_policies()\n"
        "del sys.argv[1]\n"
        f"from {SERVER_MODULES[kind]} import main\n"
        "main()\n"
    )
    return [str(python), "-c", code, str(layout.swift_dir), str(layout.swift_dir / f"{kind}-server.conf"), "-v"]


def daemon_argv(python: Path, layout: Layout, name: str) -> list[str]:
    """A swift daemon (container-sync) in the foreground, launched like :func:`server_argv`."""
    argv = server_argv(python, layout, name)
    argv[-2] = str(layout.swift_dir / f"{name}.conf")
    return argv


def remove_storage(storage: Path, root: Path) -> bool:
    """Delete the storage directory if the stack at ``root`` provably owns it; True if deleted."""
    if not owns_storage(storage, root):
        return False
    shutil.rmtree(storage, ignore_errors=True)
    storage_marker(storage).unlink(missing_ok=True)
    return True

