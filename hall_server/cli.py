"""The `hall-server` command: serve, migrate, token, seed, audit, db."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hall_server.const import (
    APP_ROLE_DEFAULT,
    CHAIN_ALGORITHMS,
    CIPHERS,
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    DEMO_DB_FILE_NAME,
    DEMO_TOKENS_FILE,
    OPEN_FILES_WANTED,
    ROLES,
    WS_PER_MESSAGE_DEFLATE,
)
from hall_server.errors import HallError

if TYPE_CHECKING:
    from hall_server.config import Settings

logger = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> Settings:
    """HALL_* variables, then what the command line says over them."""
    from hall_server.config import Settings

    given = {
        name: getattr(args, name, None)
        for name in (
            "host",
            "port",
            "public_url",
            "tls_cert",
            "tls_key",
            "data_key_file",
            "data_cipher",
            "audit_hash",
        )
    }
    if args.db:
        given["db_url"] = args.db
    if args.data_dir is not None:
        given["data_dir"] = Path(args.data_dir)
    return Settings(**{k: v for k, v in given.items() if v is not None})


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="database URL (default: SQLite file in the data folder)")
    p.add_argument(
        "--data-dir", default=None, help=f"data folder (default: HALL_DATA_DIR or {DEFAULT_DATA_DIR})"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of hall-server."""
    parser = argparse.ArgumentParser(
        prog="hall-server", description="政务服务大厅排队叫号服务 / service-hall server"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    _add_common(serve)
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-zeroconf", action="store_true", help="do not advertise on the LAN")
    serve.add_argument("--demo", action="store_true", help="fresh SQLite demo city with printed tokens")
    serve.add_argument("--public-url", help="URL phones use for ticket QR codes")
    serve.add_argument("--city-file", help="city data file for --demo (default assets/demo_city.json)")
    serve.add_argument("--tls-cert", help="PEM certificate (chain): serve HTTPS and WSS")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--data-key-file", help="the data key from this file (or HALL_DATA_KEY_FILE)")
    serve.add_argument(
        "--data-cipher", choices=CIPHERS, help="cipher of new personal data (or HALL_DATA_CIPHER)"
    )
    serve.add_argument(
        "--audit-hash", choices=CHAIN_ALGORITHMS, help="hash of the audit chain (or HALL_AUDIT_HASH)"
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every HTTP request (off by default: it costs CPU)"
    )

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    _add_common(migrate)

    seed = sub.add_parser("seed", help="load a city data file")
    _add_common(seed)
    seed.add_argument("file", nargs="?", help="city data file (default assets/demo_city.json)")

    token = sub.add_parser("token", help="device and staff tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a token and print it once")
    _add_common(create)
    create.add_argument("--role", required=True, choices=[r for r in ROLES if r != "clerk"])
    create.add_argument("--hall")
    create.add_argument("--window", type=int, help="window id (rating devices)")
    create.add_argument("--label", default="")
    lst = tsub.add_parser("list", help="list tokens (without secrets)")
    _add_common(lst)
    revoke = tsub.add_parser("revoke", help="revoke a token by id")
    _add_common(revoke)
    revoke.add_argument("token_id", type=int)
    rotate = tsub.add_parser(
        "rotate", help="replace a token's secret (the old one stops at once); print the new one"
    )
    _add_common(rotate)
    rotate.add_argument("token_id", type=int)

    audit = sub.add_parser("audit", help="the audit trail (全过程留痕)")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    verify = asub.add_parser("verify", help="check the hash chains; exit 1 at the first broken record")
    _add_common(verify)
    verify.add_argument("--hall", help="one hall (or audit stream, e.g. audit:city); default every chain")

    station = sub.add_parser(
        "station", help="station sync: stations of this server, or set this one up as a station"
    )
    ssub = station.add_subparsers(dest="station_command", required=True)
    sadd = ssub.add_parser(
        "add", help="register a station owning halls; print its setup bundle (credential once)"
    )
    _add_common(sadd)
    sadd.add_argument("station_id")
    sadd.add_argument("--halls", required=True, help="comma-separated hall ids the station owns")
    sadd.add_argument("--name", default="")
    sadd.add_argument(
        "--via", help="the station it reaches this server through (a township relaying for this village)"
    )
    sadd.add_argument("--out", help="write the bundle to this file (mode 0600) instead of printing it")
    sadd.add_argument(
        "--with-data-key",
        action="store_true",
        help="put the key this database is recorded with into the bundle (never made here)",
    )
    sadd.add_argument("--data-key-file", help="the city's data key file (or HALL_DATA_KEY_FILE)")
    srev = ssub.add_parser("revoke", help="revoke a station's credential")
    _add_common(srev)
    srev.add_argument("station_id")
    sreset = ssub.add_parser(
        "reset", help="accept a re-installed station: forget its epoch, re-base its streams at the city's seq"
    )
    _add_common(sreset)
    sreset.add_argument("station_id")
    sremove = ssub.add_parser(
        "remove", help="free a revoked station's halls (city halls again, or for a new station)"
    )
    _add_common(sremove)
    sremove.add_argument("station_id")
    slist = ssub.add_parser("list", help="stations with their sync state")
    _add_common(slist)
    ssetup = ssub.add_parser("setup", help="make this database a station's and sync once with the parent")
    _add_common(ssetup)
    ssetup.add_argument("--parent", required=True, help="the parent server's base URL")
    ssetup.add_argument("--id", required=True, help="the station id")
    ssetup.add_argument("--credential-file", required=True, help="the setup bundle (or bare credential) file")
    ssetup.add_argument("--ca", help="PEM file pinning the parent's certificate or CA")
    ssetup.add_argument(
        "--data-key-file", help="the city's data key file (or HALL_DATA_KEY_FILE; default: the bundle's)"
    )

    dbp = sub.add_parser("db", help="database administration")
    dsub = dbp.add_subparsers(dest="db_command", required=True)
    grant = dsub.add_parser(
        "grant-app-role", help="PostgreSQL: create the server's role (events: INSERT and SELECT only)"
    )
    _add_common(grant)
    grant.add_argument("--role", default=APP_ROLE_DEFAULT, help=f"role name (default {APP_ROLE_DEFAULT})")
    grant.add_argument("--password", help="login password of the role (default: from HALL_APP_ROLE_PASSWORD)")
    grant.add_argument("--print-sql", action="store_true", help="print the SQL instead of running it")
    arch = dsub.add_parser(
        "archive-events",
        help="move event-log days older than HALL_EVENT_RETENTION_DAYS to event_archive "
        "(run as the database owner where the server's role may not delete events)",
    )
    _add_common(arch)
    arch.add_argument("--days", type=int, help="retention in days (default: HALL_EVENT_RETENTION_DAYS)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of hall-server."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # Before the frameworks load (see cmd_serve): their import builds most of the heap that
        # settle_heap freezes, and collecting it while it grows is a tenth of the start-up CPU.
        gc.disable()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from hall_server.crypto import DataKeyError
    from hall_server.errors import HallError
    from hall_server.sync.capture import StationBackendError

    try:
        if args.command == "serve":
            try:
                return cmd_serve(args)
            finally:
                gc.enable()  # a serve refused at start, run in-process (tests), leaves it on
        if args.command == "migrate":
            return cmd_migrate(args)
        if args.command == "seed":
            return cmd_seed(args)
        if args.command == "token":
            return cmd_token(args)
        if args.command == "audit":
            return cmd_audit(args)
        if args.command == "db":
            return cmd_db(args)
        if args.command == "station":
            return cmd_station(args)
    except (DataKeyError, StationBackendError) as err:
        print(f"错误 / error: {err}", file=sys.stderr)
        return 2
    except HallError as err:
        print(f"错误 / error: {err.message} / {err.message_en} {err.detail or ''}", file=sys.stderr)
        return 2
    return 1


def cmd_migrate(args: argparse.Namespace) -> int:
    """hall-server migrate."""
    from hall_server.migrate import current_revision, upgrade

    s = _settings(args)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(s.database_url)
    print(f"schema at revision {current_revision(s.database_url)}")
    return 0


def _open_db(s: Settings) -> Any:
    from hall_server.db.engine import Database
    from hall_server.migrate import upgrade

    s.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(s.database_url)
    return Database(s.database_url, pool_size=2)


def cmd_seed(args: argparse.Namespace) -> int:
    """hall-server seed [FILE]."""
    from hall_server.seed import demo_city_path, seed_file

    db = _open_db(_settings(args))
    try:
        counts = seed_file(db, args.file or demo_city_path())
    finally:
        db.dispose()
    print(json.dumps(counts, ensure_ascii=False))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """hall-server token create|list|revoke|rotate."""
    from hall_server.auth import create_token, list_tokens, revoke_token, rotate_token

    db = _open_db(_settings(args))
    try:
        if args.token_command == "create":
            if args.hall is not None:
                _check_hall(db, args.hall)
            with db.write() as s:
                token_id, token = create_token(
                    s,
                    args.role,
                    hall_id=args.hall,
                    window_id=args.window,
                    label=args.label,
                    actor=_cli_actor(),
                )
            print(
                json.dumps(
                    {
                        "id": token_id,
                        "role": args.role,
                        "hall_id": args.hall,
                        "window_id": args.window,
                        "token": token,
                    },
                    ensure_ascii=False,
                )
            )
        elif args.token_command == "list":
            with db.read() as s:
                for row in list_tokens(s):
                    print(json.dumps(row, ensure_ascii=False))
        elif args.token_command == "revoke":
            with db.write() as s:
                ok = revoke_token(s, args.token_id, actor=_cli_actor())
            if not ok:
                print(
                    f"令牌 {args.token_id} 不存在或已注销 / token {args.token_id} unknown or already revoked",
                    file=sys.stderr,
                )
                return 1
            print(f"revoked {args.token_id}")
        elif args.token_command == "rotate":
            with db.write() as s:
                new = rotate_token(s, args.token_id)
            if new is None:
                print(
                    f"令牌 {args.token_id} 不存在或已注销 / token {args.token_id} unknown or already revoked",
                    file=sys.stderr,
                )
                return 1
            print(json.dumps({"id": new[0], "replaces": args.token_id, "token": new[1]}, ensure_ascii=False))
    finally:
        db.dispose()
    return 0


def cmd_station(args: argparse.Namespace) -> int:
    """hall-server station add|revoke|reset|remove|list|setup (docs/sync.md)."""
    from hall_server.services import stations

    settings = _settings(args)
    if args.station_command == "setup":
        return _station_setup(args, settings)
    db = _open_db(settings)
    try:
        if args.station_command in ("add", "revoke", "reset", "remove") and settings.station_mode:
            # A relay (township) takes its stations' registry from the city with every pull.
            print(
                "this server is a station: stations are registered and revoked at the city "
                "(hall-server station add ... --via THIS-STATION there)",
                file=sys.stderr,
            )
            return 2
        if args.station_command == "add":
            halls = [h.strip() for h in args.halls.split(",") if h.strip()]
            # The key first: a refusal must leave no station registered.
            key = _recorded_data_key(settings, db) if args.with_data_key else None
            bundle = stations.add_station(db, args.station_id, halls, args.name, via=args.via)
            if key is not None:
                bundle["data_key"] = key.hex()
            text = json.dumps(bundle, ensure_ascii=False)
            if args.out:
                out = Path(args.out)
                out.touch(mode=0o600, exist_ok=True)
                out.chmod(0o600)
                out.write_text(text + "\n", encoding="utf-8")
                print(
                    json.dumps(
                        {
                            "station_id": args.station_id,
                            "station_no": bundle["station_no"],
                            "bundle": str(out),
                        }
                    )
                )
            else:
                print(text)
        elif args.station_command == "revoke":
            stations.revoke_station(db, args.station_id)
            print(f"revoked {args.station_id}")
        elif args.station_command == "reset":
            streams = stations.reset_station(db, args.station_id)
            print(json.dumps({"reset": args.station_id, "rebased": streams}, ensure_ascii=False))
        elif args.station_command == "remove":
            halls = stations.remove_station(db, args.station_id)
            print(json.dumps({"removed": args.station_id, "halls": halls}, ensure_ascii=False))
        elif args.station_command == "list":
            from datetime import UTC, datetime

            with db.read() as s:
                for row in stations.station_rows(s, None, datetime.now(UTC), settings.station_silent_alert_s):
                    print(json.dumps(row, ensure_ascii=False))
    finally:
        db.dispose()
    return 0


def _recorded_data_key(settings: Settings, db: Any) -> bytes:
    """The data key to bundle for a station: the one given (or the data folder's), never a new one,
    and only if it is the key this database is recorded with (server_meta's fingerprint)."""
    from sqlalchemy import select

    from hall_server.const import KEY_FILE_NAME, META_KEY_FINGERPRINT
    from hall_server.crypto import DataKeyError, key_fingerprint, load_or_create_key
    from hall_server.db.models import ServerMeta

    default = settings.data_dir / KEY_FILE_NAME
    if not (settings.data_key or settings.data_key_file or default.is_file()):
        raise DataKeyError(
            "没有可打包的数据密钥 / no data key to bundle: run station add with the city server's "
            "settings (HALL_DATA_KEY_FILE or --data-key-file, --db); it never makes a key"
        )
    key = load_or_create_key(settings.data_dir, settings.data_key_file, settings.data_key)
    with db.read() as s:
        stored = s.execute(select(ServerMeta.value).where(ServerMeta.key == META_KEY_FINGERPRINT)).scalar()
    if stored is None:
        raise DataKeyError(
            "数据库尚未记录数据密钥 / this database records no data key yet: start the city server "
            "once with its key, then add the station"
        )
    if stored != key_fingerprint(key):
        raise DataKeyError(
            "数据密钥与数据库不符，未生成安装包 / this data key is not the key of this database "
            f"(database key fingerprint {str(stored)[:24]}…, this key {key_fingerprint(key)[:24]}…); "
            "give the city server's key: HALL_DATA_KEY_FILE or --data-key-file"
        )
    return key


def _station_data_key(settings: Settings, credential_file: Path) -> tuple[Settings, Path | None]:
    """The station's data key, settled before anything opens its database (docs/deployment.md).

    A station must use the city's key. A key given (HALL_DATA_KEY, HALL_DATA_KEY_FILE,
    --data-key-file) must be the bundle's, if the bundle carries one; without one the bundle's is
    written to <data-dir>/data.key (0600); with neither, set-up is refused rather than the server
    making a key of its own. Returns the settings to use and the key file to serve with.
    """
    from hall_server.const import KEY_FILE_NAME
    from hall_server.crypto import DataKeyError, load_or_create_key

    raw = credential_file.read_text(encoding="utf-8").strip()
    carried = json.loads(raw).get("data_key") if raw.startswith("{") else None
    bundled = load_or_create_key(settings.data_dir, None, str(carried)) if carried else None
    if settings.data_key or settings.data_key_file:
        given = load_or_create_key(settings.data_dir, settings.data_key_file, settings.data_key)
        if bundled is not None and given != bundled:
            raise DataKeyError(
                "给定的数据密钥不是安装包中市级平台的密钥 / the data key given is not the city's key in "
                "the setup bundle: give the bundle's key, or none (the bundle's is then used)"
            )
        return settings, settings.data_key_file
    if bundled is None:
        raise DataKeyError(
            "缺少数据密钥 / no data key: a station must use the city's data key; give it as "
            "HALL_DATA_KEY_FILE (or --data-key-file), or use a bundle made with station add --with-data-key"
        )
    path = settings.data_dir / KEY_FILE_NAME
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if load_or_create_key(settings.data_dir, path) != bundled:
            raise DataKeyError(
                f"数据目录中已有另一个数据密钥 / {path} holds another data key than the bundle's "
                "(made by an earlier command?): set the station up in an empty data folder"
            ) from None
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(bundled.hex() + "\n")
    return settings.model_copy(update={"data_key_file": path}), path


def _station_setup(args: argparse.Namespace, settings: Settings) -> int:
    from hall_server.context import ServerContext
    from hall_server.migrate import upgrade
    from hall_server.sync import capture
    from hall_server.sync.station import StationSync

    settings = settings.model_copy(
        update={
            "parent_url": args.parent,
            "station_id": args.id,
            "station_credential_file": Path(args.credential_file),
            "parent_ca": Path(args.ca) if args.ca else None,
        }
    )
    settings, key_file = _station_data_key(settings, Path(args.credential_file))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    ctx = ServerContext.create(settings)
    try:
        sync = StationSync(ctx)
        capture.setup_station(ctx.db, settings, sync.bundle)
        ok = sync.sync_once()
        with ctx.db.read() as s:
            st = capture.state(s)
        print(
            json.dumps(
                {
                    "station_id": st.station_id,
                    "station_no": st.station_no,
                    "epoch": st.epoch,
                    "link": st.link_state,
                    "error": st.error_code,
                    "config_version": st.config_version,
                    "env": {
                        "HALL_PARENT_URL": args.parent,
                        "HALL_STATION_ID": args.id,
                        "HALL_STATION_CREDENTIAL_FILE": str(Path(args.credential_file).resolve()),
                        **({"HALL_PARENT_CA": str(Path(args.ca).resolve())} if args.ca else {}),
                        **({"HALL_DATA_KEY_FILE": str(Path(key_file).resolve())} if key_file else {}),
                    },
                },
                ensure_ascii=False,
            )
        )
    finally:
        ctx.close()
    return 0 if ok else 1


def cmd_audit(args: argparse.Namespace) -> int:
    """hall-server audit verify [--hall H]: one JSON line per chain; exit 1 if any is broken."""
    from hall_server import audit

    db = _open_db(_settings(args))
    try:
        verdicts = audit.verify_all(db, args.hall)
    finally:
        db.dispose()
    for v in verdicts:
        print(json.dumps(v.as_dict(), ensure_ascii=False))
        if not v.ok:
            print(
                f"审计链断裂 / audit chain broken: {v.hall_id} at seq {v.broken_seq}: {v.problem}",
                file=sys.stderr,
            )
    return 0 if all(v.ok for v in verdicts) else 1


def cmd_db(args: argparse.Namespace) -> int:
    """hall-server db grant-app-role: the server's PostgreSQL role that cannot rewrite history."""
    from hall_server.db.roles import database_of, grant_app_role_sql, run_sql

    s = _settings(args)
    if args.db_command == "archive-events":
        return _archive_events(s, args.days)
    if not s.database_url.startswith(("postgres", "postgresql")):
        print("grant-app-role is for PostgreSQL only / PostgreSQL only", file=sys.stderr)
        return 2
    password = args.password or s.app_role_password
    statements = grant_app_role_sql(args.role, password, database_of(s.database_url))
    if args.print_sql:
        print(";\n".join(statements) + ";")
        return 0
    run_sql(s.database_url, statements)
    print(f"role {args.role}: events INSERT/SELECT only; other tables read and write")
    return 0


def _archive_events(s: Any, days: int | None) -> int:
    """hall-server db archive-events: the retention rule run once, as the database owner."""
    from datetime import UTC, datetime

    from hall_server.event_archive import archive_closed_days

    days = s.event_retention_days if days is None else days
    if days <= 0:
        print("no retention set (HALL_EVENT_RETENTION_DAYS or --days) / 未设置保留天数", file=sys.stderr)
        return 2
    db = _open_db(s)
    try:
        moved = archive_closed_days(db, datetime.now(UTC), days, station=s.station_mode)
    finally:
        db.dispose()
    print(json.dumps({"archived": moved, "retention_days": days}))
    return 0


def _cli_actor() -> Any:
    """The audit actor of a command run on the server's machine: the operating-system user."""
    import getpass

    from hall_server.audit import client_address
    from hall_server.events import Actor

    client_address.set("cli")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Actor("cli", user)


def _check_hall(db: Any, hall_id: str) -> None:
    from sqlalchemy import select

    from hall_server.db.models import Hall
    from hall_server.errors import HallError

    with db.read() as s:
        if s.execute(select(Hall.id).where(Hall.id == hall_id)).first() is None:
            raise HallError("hall.unknown", hall_id=hall_id)


def cmd_serve(args: argparse.Namespace) -> int:
    """hall-server serve."""
    # Start-up builds a large heap that lives as long as the process (models, routes, the
    # catalogue): collecting it over and over while it grows is wasted start-up time.
    # settle_heap() freezes it and turns the collector back on. main() has turned it off
    # already; this is for a caller of cmd_serve that did not.
    gc.disable()
    _raise_open_files_limit()
    import uvicorn

    from hall_server.migrate import upgrade

    s = _settings(args)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    tls = _tls_options(s)
    if args.demo and not args.db:
        # A fresh SQLite file each time; an explicit --db is used (and seeded) as given.
        demo_db = s.data_dir / DEMO_DB_FILE_NAME
        for suffix in ("", "-wal", "-shm"):
            Path(str(demo_db) + suffix).unlink(missing_ok=True)
        s.db_url = f"sqlite:///{demo_db.resolve()}"
    if s.station_mode:
        from hall_server.sync.capture import check_backend

        check_backend(s.database_url)  # before the schema is touched
    upgrade(s.database_url)
    if args.workers > 1 or args.demo:
        # One process checks the key when it builds its app (ServerContext.create) before it
        # serves or advertises: opening the database a second time for it here was start-up
        # time spent twice. Workers build their apps in their own processes, after this one
        # has started them, and the demo writes with the key before any app exists.
        _check_data_key(s)
    if args.demo:
        from hall_server.demo import prepare_demo

        tokens = prepare_demo(s, args.city_file)
        path = s.data_dir / DEMO_TOKENS_FILE
        path.write_text(json.dumps(tokens, ensure_ascii=False, indent=2), encoding="utf-8")
        os.chmod(path, 0o600)
        print(json.dumps(tokens, ensure_ascii=False, indent=2))
        print(f"demo tokens written to {path}", flush=True)

    os.environ.update(s.to_env())
    options: dict[str, Any] = {
        "host": s.host,
        "port": s.port,
        "log_level": "info" if args.verbose or args.access_log else "warning",
        "access_log": bool(args.access_log or args.verbose),
        "ws": s.ws_protocol,
        "ws_per_message_deflate": WS_PER_MESSAGE_DEFLATE,
        **tls,
        # uvicorn picks uvloop and httptools itself when they are installed (uvicorn[standard]).
    }
    advertiser = None
    try:
        if args.workers > 1:
            gc.enable()  # this process only supervises; each worker settles its own heap
            if not args.no_zeroconf:
                advertiser = _advertise(s, tls=bool(tls))
            uvicorn.run("hall_server.app:create_app_from_env", factory=True, workers=args.workers, **options)
        else:
            from hall_server.app import create_app
            from hall_server.gc_freeze import settle_heap

            app = create_app(s, migrate=False)
            settle_heap(postgres=app.state.ctx.db.is_postgres)
            if not args.no_zeroconf:
                # After the app (which checked the data key): nothing is announced for a
                # server that refuses to start, and the hall comes from its own catalogue.
                advertiser = _advertise(s, tls=bool(tls), catalog=app.state.ctx.catalog)
            uvicorn.run(app, **options)
    finally:
        if advertiser is not None:
            advertiser.stop()
    return 0


def _raise_open_files_limit() -> None:
    """Take the hard limit of open files: every event-socket subscriber holds one (the soft limit is often 1,024)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            logger.warning("could not raise the open-files limit from %d", soft, exc_info=True)


def _tls_options(s: Settings) -> dict[str, str]:
    """uvicorn's certificate options from --tls-cert/--tls-key (or HALL_TLS_CERT/KEY); both or neither."""
    cert, key = s.tls_cert, s.tls_key
    if not cert and not key:
        return {}
    if not (cert and key):
        raise HallError("request.invalid", reason="--tls-cert and --tls-key go together")
    for path in (cert, key):
        if not Path(path).is_file():
            raise HallError("request.invalid", reason=f"TLS file not found: {path}")
    return {"ssl_certfile": cert, "ssl_keyfile": key}


def _check_data_key(s: Settings) -> None:
    """Refuse to start (DataKeyError) before any worker runs if the key is not the database's."""
    from hall_server.context import check_key_fingerprint
    from hall_server.crypto import DataProtector, load_or_create_key
    from hall_server.db.engine import Database

    protector = DataProtector(load_or_create_key(s.data_dir, s.data_key_file, s.data_key), s.data_cipher)
    db = Database(s.database_url, pool_size=1)
    try:
        check_key_fingerprint(db, protector.fingerprint)
    finally:
        db.dispose()


def _advertise(s: Settings, tls: bool = False, catalog: Any = None) -> Any:
    """Announce the server on the LAN from a background thread (Advertiser.start_in_background)."""
    from hall_server.advertise import Advertiser

    def main_hall() -> tuple[str | None, str]:
        if catalog is not None:
            hall = catalog.main_hall()
        else:  # the supervisor of several workers has no app of its own
            from hall_server.catalog import Catalog
            from hall_server.db.engine import Database

            db = Database(s.database_url, pool_size=1)
            try:
                hall = Catalog(db).main_hall()
            finally:
                db.dispose()
        return (hall.id, hall.short_name) if hall else (None, "hall-server")

    adv = Advertiser(hall_id=None, hall_name="hall-server", host=s.host, port=s.port, tls=tls)
    adv.start_in_background(main_hall)
    return adv


if __name__ == "__main__":
    sys.exit(main())
