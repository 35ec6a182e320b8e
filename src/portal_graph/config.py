"""Configuration from the environment. A bad value stops start-up with one line naming it."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Per-user folder for the embedded database, local mail and generated keys."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "portal-graph"


# Lease time an outbox worker keeps beyond the longest send: room to say QUIT and to record the
# outcome, or to wait out a short database outage before recording it (see mail/worker.py).
LEASE_SPARE_SECONDS = 30.0
TRUSTED_DOCUMENT_AUDIENCES = ("anonymous", "external", "staff", "admin")
# The audiences with query budgets of their own (QUERY_MAX_*_EXTERNAL, *_ANONYMOUS).
_OWN_BUDGETS = ("_external", "_anonymous")


def parse_rate(value: str) -> tuple[int, int]:
    """A rate limit's "hits/seconds" as (hits, seconds)."""
    hits, _, seconds = value.partition("/")
    return int(hits), int(seconds)


def _hits_per_seconds(value: str) -> str:
    hits, _, seconds = value.partition("/")
    if not (hits.strip().isdigit() and seconds.strip().isdigit() and int(seconds) > 0):
        raise ValueError("must look like HITS/SECONDS, e.g. 20/60")
    return value


def _bucket_size(value: str) -> str:
    maximum, _, rate = value.partition("/")
    if not (maximum.strip().isdigit() and rate.strip().isdigit()
            and int(maximum) > 0 and int(rate) > 0):
        raise ValueError("must look like MAXIMUM/RESTORE_PER_SECOND, e.g. 100000/5000")
    return value


# A rate limit ("HITS/SECONDS") and a cost bucket ("MAXIMUM/RESTORE_PER_SECOND"), each field
# checked by its type, so a new one needs no list of names to join.
RateSetting = Annotated[str, AfterValidator(_hits_per_seconds)]
BucketSetting = Annotated[str, AfterValidator(_bucket_size)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str | None = Field(
        default=None, description="postgresql:// URL; unset starts an embedded PostgreSQL"
    )
    smtp_url: str | None = Field(
        default=None, description="smtp://host:port; unset writes mail to MAIL_DIR"
    )
    smtp_from: str = "Customer Portal <portal@localhost>"
    portal_url: str = Field(
        default="http://127.0.0.1:8000/accept/",
        description="Base of invite links; the raw token is appended",
    )
    password_reset_url: str | None = Field(
        default=None,
        description="Base of password-reset links; the raw token is appended. Unset: the "
        "reset page beside PORTAL_URL's accept page (…/reset/), or /reset/ on its origin",
    )
    invitation_ttl_days: int = Field(default=7, ge=1, le=30)
    data_dir: Path = Field(default_factory=default_data_dir)
    mail_dir: Path | None = None
    secret_key: str | None = Field(
        default=None,
        description="Key that encrypts invite links waiting in the outbox; "
        "generated into DATA_DIR when unset (set it when running several instances)",
    )
    database_direct_url: str | None = Field(
        default=None,
        description="postgresql:// URL straight to the primary, for what needs a session of "
        "its own (migrations and their advisory lock, LISTEN): set it when DATABASE_URL "
        "points at a transaction-pooling PgBouncer; unset: DATABASE_URL")
    db_pgbouncer: bool = Field(
        default=False,
        description="DATABASE_URL goes through PgBouncer in transaction mode (1.18 or later): "
        "no statement cache, unique prepared-statement names, connection settings sent in "
        "each transaction instead of at connect")
    database_read_urls: str | None = Field(
        default=None,
        description="Comma-separated postgresql:// URLs of streaming standbys: read-only "
        "requests go to one that has replayed the caller's last write (replicas.py)")
    db_replica_max_lag_bytes: int = Field(
        default=16 * 1024 * 1024, ge=0,
        description="A replica further behind the primary than this much WAL is skipped")
    db_replica_check_seconds: float = Field(default=0.5, gt=0, le=60)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    db_pool_timeout_seconds: float = Field(default=10, gt=0, le=300)
    db_lock_timeout_ms: int = Field(default=3000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)
    db_request_role: str = Field(
        default="portal_graph_request",
        description="Role requests run as where DATABASE_URL's role bypasses row-level "
        "security (a superuser, the embedded server's); created by `migrate`")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # auto: readable text on a terminal, JSON lines otherwise (a service manager, a container)
    log_format: Literal["auto", "json", "text"] = "auto"
    graphiql: bool = True
    # How reads run: "compiled" (read plans, graphql/compiled/, with graphql-core for whatever
    # they do not know) or "graphql" (graphql-core for everything; for diagnosis).
    execution: Literal["compiled", "graphql"] = "compiled"
    graphiql_cdn_url: str = "https://unpkg.com"
    session_ttl_hours: int = Field(default=24 * 14, ge=1)
    session_idle_minutes: int = Field(default=60 * 24, ge=1)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # 2 s doubling, at most an hour apart: 30 attempts ride out about a day of SMTP outage.
    outbox_max_attempts: int = Field(default=30, ge=1, le=100)
    outbox_backoff_seconds: float = Field(default=2.0, gt=0)
    # How long a claimed email stays the claiming worker's; a worker that dies mid-send holds
    # its emails back this long, then another worker sends them (with the same Message-ID).
    outbox_lease_seconds: float = Field(default=120, gt=0, le=3600)
    # SMTP deadlines: connecting (up to the server's greeting), each command's reply, and the
    # whole message from connecting to accepted.
    smtp_connect_timeout_seconds: float = Field(default=10, gt=0, le=300)
    smtp_command_timeout_seconds: float = Field(default=30, gt=0, le=600)
    smtp_message_timeout_seconds: float = Field(default=60, gt=0, le=1800)
    run_outbox_worker: bool = True
    # Webhooks (portal_graph/webhooks): destinations on loopback, private, link-local or
    # metadata addresses are refused unless this is true (tests, a private network's receiver).
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # 2 s doubling, at most an hour apart; an endpoint failing for a day is disabled and its
    # organization's admins are emailed.
    webhook_max_attempts: int = Field(default=30, ge=1, le=100)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_disable_after_seconds: float = Field(default=86_400, gt=0)
    webhook_lease_seconds: float = Field(default=60, gt=0, le=3600)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    run_webhook_worker: bool = True
    cors_allow_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    metrics_token: str | None = Field(
        default=None, description="When set, /metrics requires `Authorization: Bearer <it>`")
    max_batch: int = Field(default=10, ge=1, le=100, description="operations per batched POST")
    query_max_depth: int = Field(default=15, ge=2, le=100)  # introspection needs 15
    query_max_aliases: int = Field(default=30, ge=0, le=10_000)
    query_max_tokens: int = Field(default=1000, ge=100, le=100_000)  # validation work grows with it
    query_max_cost: int = Field(default=50_000, ge=10)  # fits 5 customers x 100 jobs + 10+10
    query_max_first: int = Field(default=100, ge=1, le=10_000)
    query_max_directives: int = Field(default=50, ge=0)
    # Fields per selection set, and repeats of one name there (graphql/budgets.py).
    query_max_selections: int = Field(default=150, ge=1)
    query_max_repeated_fields: int = Field(default=20, ge=1)
    # Much smaller budgets for external users and anonymous callers, checked before
    # validation: none of their documents may cost more than a few ms of CPU.
    query_max_tokens_external: int = Field(default=600, ge=100, le=100_000)
    query_max_selections_external: int = Field(default=60, ge=1)
    query_max_repeated_fields_external: int = Field(default=8, ge=1)
    query_max_tokens_anonymous: int = Field(default=400, ge=100, le=100_000)
    query_max_selections_anonymous: int = Field(default=30, ge=1)
    query_max_repeated_fields_anonymous: int = Field(default=3, ge=1)
    query_max_cost_anonymous: int = Field(default=2000, ge=10)
    shutdown_grace_seconds: int = Field(default=30, ge=1)
    # Shorter than the shutdown grace, so a request cut by its deadline still gets an answer.
    request_timeout_seconds: float = Field(default=15, gt=0, le=600)
    trust_proxy_headers: bool = False
    # Live subscriptions over WebSocket (graphql-transport-ws at /graphql; live/).
    subscriptions_per_connection: int = Field(default=10, ge=1, le=1000)
    subscriptions_per_person: int = Field(
        default=20, ge=1, le=10_000,
        description="live subscriptions one person may hold in one server process")
    subscription_recheck_seconds: float = Field(
        default=30, gt=0, le=3600,
        description="how often an idle WebSocket's credential is checked again")
    connection_init_timeout_seconds: float = Field(default=10, gt=0, le=300)
    # Rate limits as "hits/seconds", shared by all processes through PostgreSQL.
    rate_limit_login_per_address: RateSetting = "20/60"
    rate_limit_login_per_email: RateSetting = "10/900"
    rate_limit_accept_per_address: RateSetting = "20/60"
    rate_limit_preview_per_address: RateSetting = "60/60"
    rate_limit_invites_per_organization: RateSetting = "200/3600"
    rate_limit_reset_per_address: RateSetting = "10/3600"
    rate_limit_reset_per_email: RateSetting = "3/3600"
    rate_limit_anonymous_per_address: RateSetting = "300/60"  # every request without a bearer token
    # Leaky buckets of query cost as "MAXIMUM/RESTORE_PER_SECOND", one per API token, session
    # and anonymous address, shared by all processes (cost_buckets.py). Admins share staff's.
    cost_accounting: bool = Field(
        default=True, description="extensions.cost and throttling by cost; off only to measure "
        "what they cost (bench/cost_overhead.py) or behind a gateway that throttles")
    cost_bucket_staff: BucketSetting = "100000/5000"
    cost_bucket_external: BucketSetting = "50000/1000"
    cost_bucket_anonymous: BucketSetting = "4000/100"
    trusted_documents: str = Field(
        default="", description="Audiences that may only send stored documents (documentId), "
        "comma-separated from anonymous, external, staff, admin; `external,anonymous` is the "
        "hardened setting")

    @field_validator("trusted_documents")
    @classmethod
    def _audiences(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(TRUSTED_DOCUMENT_AUDIENCES))
        if unknown:
            raise ValueError(f"unknown audience {unknown[0]!r}: choose from "
                             f"{', '.join(TRUSTED_DOCUMENT_AUDIENCES)}")
        return ",".join(names)

    @property
    def trusted_document_audiences(self) -> frozenset[str]:
        """The audiences (lower case) that may only send stored documents."""
        return frozenset(name for name in self.trusted_documents.split(",") if name)

    @model_validator(mode="after")
    def _timeout_within_grace(self) -> Settings:
        if self.request_timeout_seconds >= self.shutdown_grace_seconds:
            raise ValueError("REQUEST_TIMEOUT_SECONDS must be shorter than "
                             "SHUTDOWN_GRACE_SECONDS, or shutdown cuts requests off unanswered")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Settings:
        if self.outbox_lease_seconds < self.smtp_message_timeout_seconds + LEASE_SPARE_SECONDS:
            raise ValueError(f"OUTBOX_LEASE_SECONDS must exceed SMTP_MESSAGE_TIMEOUT_SECONDS by "
                             f"at least {LEASE_SPARE_SECONDS:g}, so that a send and the record "
                             "of it fit in the lease")
        return self

    @classmethod
    def declared(cls, name: str) -> Any:
        """A setting's default as declared here: the one source of what the typed views of the
        limits (QueryLimits, RateLimits, the batch size) default to."""
        return cls.model_fields[name].default

    def query_limits(self, audience: Literal["staff", "external", "anonymous"] = "staff",
                     ) -> dict[str, int]:
        """One audience's query limits by name (`max_depth`, ...): each QUERY_MAX_* setting,
        or that audience's own (QUERY_MAX_*_EXTERNAL, *_ANONYMOUS) where it has one."""
        return {name.removeprefix("query_"): getattr(self, f"{name}_{audience}",
                                                     getattr(self, name))
                for name in type(self).model_fields
                if name.startswith("query_max_") and not name.endswith(_OWN_BUDGETS)}

    def rate(self, name: str) -> tuple[int, int]:
        return parse_rate(getattr(self, f"rate_limit_{name}"))

    @field_validator("db_request_role")
    @classmethod
    def _role_name(cls, value: str) -> str:
        from portal_graph.db.tenancy import checked_role_name

        return checked_role_name(value)

    @field_validator("database_url", "database_direct_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://host:port")
        return value

    @field_validator("portal_url", "password_reset_url")
    @classmethod
    def _portal_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s):// URL")
        return value

    @property
    def reset_url_base(self) -> str:
        """Where password-reset links point: the reset page served beside the accept page."""
        if self.password_reset_url:
            return self.password_reset_url
        if self.portal_url.endswith("/accept/"):
            return self.portal_url.removesuffix("accept/") + "reset/"
        parts = urlsplit(self.portal_url)
        return f"{parts.scheme}://{parts.netloc}/reset/"

    @property
    def read_urls(self) -> list[str]:
        return [url.strip() for url in (self.database_read_urls or "").split(",")
                if url.strip()]

    @field_validator("database_read_urls")
    @classmethod
    def _read_urls(cls, value: str | None) -> str | None:
        for url in (value or "").split(","):
            if url.strip() and urlsplit(url.strip()).scheme not in (
                    "postgresql", "postgres", "postgresql+asyncpg"):
                raise ValueError("must be postgresql:// URLs, separated by commas")
        return value or None

    @property
    def direct_url(self) -> str | None:
        """Where sessions of their own connect (migrations, LISTEN): never through a pooler."""
        return self.database_direct_url or self.database_url

    @property
    def resolved_mail_dir(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"


class ConfigurationError(SystemExit):
    pass


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; exits with one line naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        print(f"portal-graph: invalid {name}: {first['msg']}", file=sys.stderr)
        raise ConfigurationError(2) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
