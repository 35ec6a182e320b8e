"""`portal-graph`: serve, migrate, seed, create organizations, export the schema, store
trusted documents."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from portal_graph.config import Settings, get_settings

SCHEMA_FILE = Path("schema.graphql")
AUDIENCE_NAMES = ("anonymous", "external", "staff", "admin")


def _database_url(settings: Settings) -> str:
    from portal_graph.db.engine import resolve_database_url

    return resolve_database_url(settings)


def _direct_url(settings: Settings) -> str:
    """Where migrations (and their advisory lock) and seeding with temporary tables run: never
    through a transaction-pooling PgBouncer (DATABASE_DIRECT_URL when it is set)."""
    return settings.database_direct_url or _database_url(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from portal_graph.db.migrate import upgrade

    settings = get_settings()
    before, after = upgrade(_direct_url(settings), settings.db_request_role)
    print("database is up to date" if before == after else f"migrated {before} -> {after}")
    return 0


async def _with_sessionmaker(coro_factory, url: str):  # type: ignore[no-untyped-def]
    from portal_graph.db.engine import make_engine, make_sessionmaker

    settings = get_settings()
    engine = make_engine(settings, url)
    try:
        return await coro_factory(make_sessionmaker(engine, settings.db_request_role))
    finally:
        await engine.dispose()


def _seed_demo(url: str) -> None:
    from portal_graph import demo

    result = asyncio.run(_with_sessionmaker(demo.seed_demo, url))
    print(f"demo organization {result.organization_id} "
          f"{'created' if result.created else 'already present'}")
    print(f"  admin login:    {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}")
    print(f"  manager login:  {demo.MANAGER_EMAIL} / {demo.MANAGER_PASSWORD}")
    print(f"  external login: {demo.CLIENT_EMAIL} / {demo.CLIENT_PASSWORD}")


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from portal_graph.db.migrate import upgrade

    settings = get_settings()
    url = _database_url(settings)
    upgrade(_direct_url(settings), settings.db_request_role)
    _seed_demo(url)
    return 0


def cmd_seed_scale(args: argparse.Namespace) -> int:
    from portal_graph.db.migrate import upgrade
    from portal_graph.scale import Sizes, seed_scale

    settings = get_settings()
    url = args.database_url or _direct_url(settings)
    upgrade(url, settings.db_request_role)
    sizes = Sizes(customers=args.customers, jobs=args.jobs, captures=args.captures,
                  assets=args.assets, external_users=args.external_users,
                  grants_max=args.grants_max)
    result = asyncio.run(seed_scale(url, sizes))
    print(f"scale organization {result.organization_id} "
          f"{'created' if result.created else 'already present'}: {sizes.organization_name}")
    print(f"  admin login:    {result.admin_email} / {result.admin_password}")
    print(f"  external login: {result.client_email} / {result.client_password} "
          f"({len(result.client_customer_ids)} customers, the largest; "
          f"{len(result.client_emails) - 1} more like it: {result.client_emails[-1]})")
    print(f"  search fragment with matches: {result.search_fragment!r}")
    return 0


def cmd_create_organization(args: argparse.Namespace) -> int:
    from portal_graph.accounts.bootstrap import create_organization
    from portal_graph.db.migrate import upgrade
    from portal_graph.db.tenancy import SystemContext, system_tenancy
    from portal_graph.graphql.core.relay import to_global_id
    from portal_graph.problems import Rejected

    settings = get_settings()
    url = _database_url(settings)
    upgrade(_direct_url(settings), settings.db_request_role)

    async def create(sessionmaker):  # type: ignore[no-untyped-def]
        async with sessionmaker(**system_tenancy(SystemContext.CLI)) as session, session.begin():
            return await create_organization(
                session, name=args.name, ttl_days=settings.invitation_ttl_days,
                admin_email=args.admin_email, admin_password=args.admin_password,
                admin_name=args.admin_name)

    try:
        org, _ = asyncio.run(_with_sessionmaker(create, url))
    except Rejected as rejected:
        print(f"portal-graph: {rejected.problems[0].code.value}: {rejected}", file=sys.stderr)
        return 1
    print(to_global_id("Organization", org.id))
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from portal_graph.graphql.schema import audience_schema, full_schema
    from portal_graph.scope import Audience

    schema = (full_schema() if args.audience is None
              else audience_schema(Audience(args.audience.upper())))
    sdl = schema.as_str().rstrip() + "\n"
    target = Path(args.output) if args.output else (SCHEMA_FILE if args.audience is None
                                                    else None)
    if args.check:
        path = target or SCHEMA_FILE
        if not path.exists() or path.read_text() != sdl:
            print(f"{path} differs from the schema the code builds: "
                  "run `portal-graph export-schema`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    if target is None:
        sys.stdout.write(sdl)
    else:
        target.write_text(sdl)
        print(f"wrote {target}")
    return 0


def _checked_documents(paths: list[str]) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """Each file's text and operation names, if it is a valid document of the full schema;
    and a line per file that is not."""
    from graphql import GraphQLError, OperationDefinitionNode, parse, validate

    from portal_graph.graphql.schema import full_schema

    schema = full_schema()._schema
    valid: list[tuple[str, str, list[str]]] = []
    problems: list[str] = []
    for path in paths:
        try:
            body = Path(path).read_text(encoding="utf-8")
            document = parse(body)
        except (OSError, UnicodeDecodeError, GraphQLError) as error:
            problems.append(f"{path}: {error}")
            continue
        errors = validate(schema, document)
        if errors:
            problems.append(f"{path}: {errors[0].message}")
            continue
        names = [d.name.value if d.name else "" for d in document.definitions
                 if isinstance(d, OperationDefinitionNode)]
        valid.append((path, body, names))
    return valid, problems


def cmd_documents_add(args: argparse.Namespace) -> int:
    from portal_graph.db.migrate import upgrade
    from portal_graph.trusted_documents import store

    valid, problems = _checked_documents(args.files)
    for problem in problems:
        print(f"portal-graph: not stored: {problem}", file=sys.stderr)
    if problems:
        return 1  # all or nothing: a client build should not ship half its documents

    async def add(sessionmaker):  # type: ignore[no-untyped-def]
        async with sessionmaker() as session, session.begin():
            return [(path, *await store(session, body, names)) for path, body, names in valid]

    settings = get_settings()
    url = _database_url(settings)
    upgrade(_direct_url(settings), settings.db_request_role)
    for path, document_id, new in asyncio.run(_with_sessionmaker(add, url)):
        print(f"{document_id}  {path}{'' if new else '  (already stored)'}")
    return 0


def cmd_documents_list(args: argparse.Namespace) -> int:
    from portal_graph.trusted_documents import stored

    async def read(sessionmaker):  # type: ignore[no-untyped-def]
        async with sessionmaker() as session, session.begin():
            return await stored(session)

    for document in asyncio.run(_with_sessionmaker(read, _database_url(get_settings()))):
        names = ",".join(name or "(anonymous)" for name in document.operation_names)
        print(f"{document.id}  {document.created_at:%Y-%m-%dT%H:%M:%SZ}  {names}")
    return 0


def _exit_zero_on_sigterm() -> None:
    """Once uvicorn has shut down gracefully it raises the SIGTERM it caught again; with the
    default handler the process would then die by that signal (exit -15) after a clean stop.
    Stopping when asked is success: exit 0 (also when SIGTERM comes before uvicorn starts)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from portal_graph.db.migrate import upgrade
    from portal_graph.logs import configure_logging, logging_config

    settings = get_settings()
    configure_logging(settings)
    url = _database_url(settings)
    # Worker processes read the URL from the environment: they share the embedded server.
    os.environ["DATABASE_URL"] = url
    if "PORTAL_URL" not in os.environ:
        # Invite links then open this server's own accept page, wherever it listens.
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        os.environ["PORTAL_URL"] = f"http://{host}:{args.port}/accept/"
        get_settings.cache_clear()
    before, after = upgrade(_direct_url(settings), settings.db_request_role)
    if before != after:
        print(f"migrated {before} -> {after}")
    if args.demo:
        _seed_demo(url)
    print(f"GraphiQL: http://{args.host}:{args.port}/graphql")
    _exit_zero_on_sigterm()
    uvicorn.run("portal_graph.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, loop="uvloop", http="httptools",
                ws="websockets-sansio", ws_max_size=settings.max_body_bytes,
                # a dictConfig, so that each spawned worker process sets up logging too
                log_config=logging_config(settings),
                timeout_graceful_shutdown=settings.shutdown_grace_seconds,
                proxy_headers=settings.trust_proxy_headers, access_log=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal-graph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--demo", action="store_true", help="seed the demo organization first")
    serve.set_defaults(run=cmd_serve)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(run=cmd_migrate)

    seed = commands.add_parser("seed-demo", help="create the demo organization, print logins")
    seed.set_defaults(run=cmd_seed_demo)

    scale = commands.add_parser(
        "seed-scale", help="load a large organization with COPY for benchmarks (idempotent)")
    scale.add_argument("--customers", type=int, default=2000)
    scale.add_argument("--jobs", type=int, default=200_000)
    scale.add_argument("--captures", type=int, default=600_000)
    scale.add_argument("--assets", type=int, default=50_000)
    scale.add_argument("--external-users", type=int, default=20_000)
    scale.add_argument("--grants-max", type=int, default=5)
    scale.add_argument("--database-url", help="default: DATABASE_URL (or the embedded server)")
    scale.set_defaults(run=cmd_seed_scale)

    create = commands.add_parser("create-organization",
                                 help="create an organization and its first admin")
    create.add_argument("--name", required=True)
    create.add_argument("--admin-email", required=True)
    create.add_argument("--admin-password", required=True)
    create.add_argument("--admin-name")
    create.set_defaults(run=cmd_create_organization)

    documents = commands.add_parser(
        "documents", help="trusted documents: the operations clients may send by documentId")
    document_commands = documents.add_subparsers(dest="documents_command", required=True)
    add = document_commands.add_parser(
        "add", help="store GraphQL documents (one per file) by SHA-256; prints each id")
    add.add_argument("files", nargs="+", metavar="FILE")
    add.set_defaults(run=cmd_documents_add)
    listed = document_commands.add_parser("list", help="print the stored documents' ids")
    listed.set_defaults(run=cmd_documents_list)

    export = commands.add_parser("export-schema", help="write schema.graphql (the full SDL)")
    export.add_argument("--check", action="store_true",
                        help="fail when schema.graphql differs from the code")
    export.add_argument("--audience", choices=AUDIENCE_NAMES,
                        help="print one audience's schema instead of the full one")
    export.add_argument("--output", help="file to write (default: schema.graphql, or stdout "
                                         "with --audience)")
    export.set_defaults(run=cmd_export_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
