"""The narrow path across organizations: every named system context, and the only modules that
may use it. A new way past the tenant wall means a new line here, in review."""

from __future__ import annotations

import re
from pathlib import Path

from portal_graph.db.tenancy import SystemContext

SRC = Path(__file__).resolve().parents[2] / "src" / "portal_graph"

# context -> the modules (relative to src/portal_graph) that enter it, and why.
ALLOWED: dict[SystemContext, set[str]] = {
    # A bearer token's digest -> its credential, before the organization is known.
    SystemContext.VIEWER_LOOKUP: {"auth/repository.py"},
    # login and switchOrganization: the person's memberships and the new session.
    SystemContext.SIGN_IN: {"auth/service.py"},
    # `me.memberships`: the organizations the signed-in person can switch to.
    SystemContext.MEMBERSHIPS: {"accounts/viewer.py"},
    # invitationPreview and acceptInvitation: the invitation a token's digest names.
    SystemContext.INVITATION_TOKEN: {"invitations/accept.py"},
    # Ending a person's credentials and their descendants, which cross organizations.
    SystemContext.CREDENTIALS: {"auth/revocation.py"},
    # A person's own account across their organizations: reset email, audit entries.
    SystemContext.ACCOUNT: {"accounts/recovery.py", "accounts/self_service.py"},
    SystemContext.OUTBOX: {"mail/worker.py"},
    # The webhook worker: due deliveries of every organization, and their endpoints' owners.
    SystemContext.WEBHOOKS: {"webhooks/worker.py"},
    SystemContext.HOUSEKEEPING: {"maintenance.py"},
    SystemContext.METRICS: {"observability/metrics.py"},
    SystemContext.CLI: {"cli.py", "demo.py", "scale.py"},
    SystemContext.MIGRATION: {"db/migrations/env.py"},
}
USE = re.compile(r"SystemContext\.([A-Z_]+)")
# `@runs_in(SystemContext.X)` on a repository function enters nothing: it requires the context
# of its caller (db/tenancy.py), so it is no use of the context here.
REQUIRES = re.compile(r"^@runs_in\([^)]*\)$", re.MULTILINE)


def _sources() -> dict[str, str]:
    return {str(path.relative_to(SRC)): path.read_text() for path in SRC.rglob("*.py")}


def test_the_system_contexts_are_exactly_the_listed_ones():
    assert set(SystemContext) == set(ALLOWED)


def test_each_system_context_is_entered_only_where_it_is_listed():
    used: dict[SystemContext, set[str]] = {context: set() for context in SystemContext}
    for module, source in _sources().items():
        if module == "db/tenancy.py":
            continue  # where they are defined
        for name in USE.findall(REQUIRES.sub("", source)):
            used[SystemContext[name]].add(module)

    assert used == ALLOWED


def _set_config_calls(source: str) -> list[str]:
    """The argument lists of every set_config(...) in a source, parentheses balanced."""
    calls = []
    for start in (m.end() for m in re.finditer(r"set_config\(", source)):
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            end += 1
        calls.append(source[start:end - 1])
    return calls


def test_the_settings_are_only_ever_written_transaction_locally():
    session_level = re.compile(r"\bSET\s+(?:SESSION\s+)?(?:ROLE|app\.)", re.IGNORECASE)
    written = 0
    for module, source in _sources().items():
        for arguments in _set_config_calls(source):
            written += 1
            assert arguments.rstrip().endswith("true"), (module, arguments)
        assert not session_level.search(source), module
    assert written >= 6  # the check saw the calls at all


def test_only_the_tenancy_module_and_its_named_users_write_the_system_context():
    sources = _sources()
    writers = {module for module, source in sources.items() if "'app.system_context'" in source}
    # Migrations write it only into the tenant policy they create (db/migrations/ddl.py's, for
    # 0005 and each later table).
    policies = {module for module in writers if module.startswith("db/migrations/")
                and module != "db/migrations/env.py"}
    assert all("CREATE POLICY" in sources[module] for module in policies)
    assert "db/migrations/ddl.py" in policies
    # tenancy.py writes what a session is told; the viewer lookup leaves the context in SQL;
    # scale.py (raw COPY connection) and the migration environment enter theirs in SQL.
    assert writers - policies == {"db/tenancy.py", "auth/repository.py", "scale.py",
                                  "db/migrations/env.py"}
