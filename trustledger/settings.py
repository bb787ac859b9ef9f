"""Every setting in one place, read from the environment (CLI options override some)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_DB = "sqlite:///./trustledger.db"
DEFAULT_LOG_ORIGIN = "trustledger.example/ledger"


@dataclass(frozen=True)
class Settings:
    db_url: str = DEFAULT_DB
    # the HMAC key for person identifiers lives here or in TRUSTLEDGER_PERSON_KEY, never in the DB
    person_key_file: Path = Path("person.key")
    # the credit centre's report-signing key and certificate (PEM), outside the DB likewise
    report_key_file: Path = Path("report.key")
    # the log's Ed25519 checkpoint-signing key (32 bytes, hex), outside the DB likewise
    log_key_file: Path = Path("log.key")
    # the checkpoint's origin line and the signing key's name: one per log, never reused
    log_origin: str = DEFAULT_LOG_ORIGIN
    # the witnesses whose cosignatures the log accepts: a file of cosigner verifier keys
    # (<name>+<hex id>+<base64(0x04 || key)>), one a line; none: no cosignature is accepted
    witness_keys_file: Path | None = None
    # `serve` signs a new checkpoint at most this often (seconds), and only when the ledger
    # grew: writers need not hold the log key, and witnesses poll at their own pace anyway
    checkpoint_interval: float = 10.0
    uscc_allowlist: Path | None = None
    # a longer line is rejected without being read into memory whole
    max_line_bytes: int = 1 << 20
    # lines per intake transaction: small enough to lose little on a crash, big enough to be fast
    batch_size: int = 10_000
    # dates in records are local dates: "in the future" is judged on this zone's calendar, so
    # a decision published at 07:00 in Beijing is not refused because UTC is still on yesterday
    timezone: str = "Asia/Shanghai"
    # adverse-action notices (trustledger.dueprocess): "outbox" writes one message file per
    # notice into outbox_dir (mode 0600); "smtp" sends through smtp_host:smtp_port
    notice_sender: str = "outbox"
    outbox_dir: Path = Path("outbox")
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "notices@trustledger.invalid"
    smtp_starttls: bool = False
    # working days for due-process deadlines: a YAML file of holidays and make-up workdays
    # (trustledger.dueprocess.calendar); none: weekends only
    holidays: Path | None = None
    # the portal's open-data files (trustledger.app.exports.open_data), cut per tree head
    open_data_dir: Path = Path("open-data")
    # where `evaluate --engine spark` runs: local[N] in process, or a cluster by URL
    spark_master: str = "local[2]"
    # the HJ 212 receiver's limits (trustledger.monitoring.receiver.ReceiverLimits): TCP
    # connections in all, the part of them kept for registered monitoring points, per
    # address (loggers behind one carrier NAT share one), rejects in a row before a
    # connection is dropped, seconds a connection in the reserve has to name a registered
    # point, seconds without a valid frame before a connection is closed, and how often
    # the same complaint is logged
    hj212_max_connections: int = 1024
    hj212_reserved_connections: int = 128
    hj212_connections_per_address: int = 256
    hj212_reject_budget: int = 100
    hj212_registration_grace: float = 10.0
    hj212_idle_timeout: float = 600.0
    hj212_log_interval: float = 60.0
    # packets made durable in a spool file beside a SQLite ledger and moved in from there,
    # so an acknowledgement never waits for the ledger's write lock (trustledger.monitoring.spool)
    hj212_spool: bool = True
    # HJ 212 through NATS JetStream (trustledger.monitoring.jetstream): with a URL, `monitor
    # listen` publishes accepted frames to the stream (acknowledging a logger once JetStream
    # stored them) instead of writing the store, and `monitor consume` stores them; the
    # subjects are <subject>.frames.<MN> and <subject>.rejects; a frame published again within
    # the duplicate window (seconds) is dropped by JetStream, later ones by the store's digest;
    # the stream keeps messages for max_age seconds; a message a consumer fetched and did not
    # acknowledge is delivered again after ack_wait seconds
    nats_url: str | None = None
    nats_stream: str = "HJ212"
    nats_subject: str = "hj212"
    nats_consumer: str = "hj212-store"
    nats_duplicate_window: float = 120.0
    nats_max_age: float = 7 * 86400.0
    nats_ack_wait: float = 30.0

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        allowlist = env.get("TRUSTLEDGER_USCC_ALLOWLIST")
        return cls(
            db_url=env.get("TRUSTLEDGER_DB", DEFAULT_DB),
            person_key_file=Path(env.get("TRUSTLEDGER_PERSON_KEY_FILE", "person.key")),
            report_key_file=Path(env.get("TRUSTLEDGER_REPORT_KEY_FILE", "report.key")),
            log_key_file=Path(env.get("TRUSTLEDGER_LOG_KEY_FILE", "log.key")),
            log_origin=env.get("TRUSTLEDGER_LOG_ORIGIN", DEFAULT_LOG_ORIGIN),
            witness_keys_file=(
                Path(env["TRUSTLEDGER_WITNESS_KEYS"])
                if env.get("TRUSTLEDGER_WITNESS_KEYS")
                else None
            ),
            checkpoint_interval=float(env.get("TRUSTLEDGER_CHECKPOINT_INTERVAL", 10.0)),
            uscc_allowlist=Path(allowlist) if allowlist else None,
            max_line_bytes=int(env.get("TRUSTLEDGER_MAX_LINE_BYTES", 1 << 20)),
            batch_size=int(env.get("TRUSTLEDGER_BATCH_SIZE", 10_000)),
            timezone=env.get("TRUSTLEDGER_TIMEZONE", "Asia/Shanghai"),
            notice_sender=env.get("TRUSTLEDGER_NOTICE_SENDER", "outbox"),
            outbox_dir=Path(env.get("TRUSTLEDGER_OUTBOX_DIR", "outbox")),
            smtp_host=env.get("TRUSTLEDGER_SMTP_HOST", "localhost"),
            smtp_port=int(env.get("TRUSTLEDGER_SMTP_PORT", 25)),
            smtp_from=env.get("TRUSTLEDGER_SMTP_FROM", "notices@trustledger.invalid"),
            smtp_starttls=_flag(env.get("TRUSTLEDGER_SMTP_STARTTLS", "")),
            holidays=Path(env["TRUSTLEDGER_HOLIDAYS"]) if env.get("TRUSTLEDGER_HOLIDAYS") else None,
            open_data_dir=Path(env.get("TRUSTLEDGER_OPEN_DATA_DIR", "open-data")),
            spark_master=env.get("TRUSTLEDGER_SPARK_MASTER", "local[2]"),
            hj212_max_connections=int(env.get("TRUSTLEDGER_HJ212_MAX_CONNECTIONS", 1024)),
            hj212_reserved_connections=int(env.get("TRUSTLEDGER_HJ212_RESERVED_CONNECTIONS", 128)),
            hj212_connections_per_address=int(
                env.get("TRUSTLEDGER_HJ212_CONNECTIONS_PER_ADDRESS", 256)
            ),
            hj212_reject_budget=int(env.get("TRUSTLEDGER_HJ212_REJECT_BUDGET", 100)),
            hj212_registration_grace=float(env.get("TRUSTLEDGER_HJ212_REGISTRATION_GRACE", 10.0)),
            hj212_idle_timeout=float(env.get("TRUSTLEDGER_HJ212_IDLE_TIMEOUT", 600.0)),
            hj212_log_interval=float(env.get("TRUSTLEDGER_HJ212_LOG_INTERVAL", 60.0)),
            hj212_spool=_flag(env.get("TRUSTLEDGER_HJ212_SPOOL", "1")),
            nats_url=env.get("TRUSTLEDGER_NATS_URL") or None,
            nats_stream=env.get("TRUSTLEDGER_NATS_STREAM", "HJ212"),
            nats_subject=env.get("TRUSTLEDGER_NATS_SUBJECT", "hj212"),
            nats_consumer=env.get("TRUSTLEDGER_NATS_CONSUMER", "hj212-store"),
            nats_duplicate_window=float(env.get("TRUSTLEDGER_NATS_DUPLICATE_WINDOW", 120.0)),
            nats_max_age=float(env.get("TRUSTLEDGER_NATS_MAX_AGE", 7 * 86400.0)),
            nats_ack_wait=float(env.get("TRUSTLEDGER_NATS_ACK_WAIT", 30.0)),
        )


def _flag(text: str) -> bool:
    """An on/off setting: 1, true, yes or on (any case) is on; anything else is off."""
    return text.strip().lower() in {"1", "true", "yes", "on"}
