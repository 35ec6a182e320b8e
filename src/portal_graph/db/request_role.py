"""The role requests run as where DATABASE_URL's role would bypass row-level security.

A superuser (the embedded server connects as one) or a BYPASSRLS role ignores every policy, so
its transactions switch to this role first (db/tenancy.py). `migrate` makes sure it exists and
may read and write every table; where the migrating role is bound by the policies itself (a
plain role that owns its database, as on a managed server) nothing is needed and nothing is done.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from portal_graph.db.tenancy import checked_role_name

_LOGIN_ROLE = text("""SELECT rolsuper, rolbypassrls, current_schema() AS schema
                      FROM pg_roles WHERE rolname = session_user""")
_ROLE = text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :role")


class RequestRoleError(RuntimeError):
    pass


def provision_request_role(connection: Connection, role: str) -> bool:
    """Create `role` (no login, bound by the policies) if the login role bypasses row-level
    security, and grant it the tables; True when requests will run as it."""
    role = checked_role_name(role)
    login = connection.execute(_LOGIN_ROLE).one()
    if not (login.rolsuper or login.rolbypassrls):
        return False
    # Several servers may migrate a fresh cluster at once: one creates, the others carry on.
    connection.execute(text(f"""
        DO $$ BEGIN
          CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$"""))
    if connection.execute(_ROLE, {"role": role}).scalar():
        raise RequestRoleError(f'role "{role}" bypasses row-level security; requests must not '
                               "run as it (set DB_REQUEST_ROLE to another role)")
    if not login.rolsuper:  # a BYPASSRLS role may switch only to roles it is a member of
        connection.execute(text(f'GRANT "{role}" TO SESSION_USER'))
    schema = f'"{login.schema}"'
    connection.execute(text(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"'))
    connection.execute(text(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO "{role}"'))
    connection.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO "{role}"'))
    connection.execute(text(f'REVOKE ALL ON TABLE {schema}.alembic_version FROM "{role}"'))
    return True
