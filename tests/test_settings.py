"""Settings come from the environment, in one place."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from trustledger.settings import Settings


def test_defaults_and_environment() -> None:
    assert Settings.from_env({}).db_url == "sqlite:///./trustledger.db"
    s = Settings.from_env(
        {
            "TRUSTLEDGER_DB": "postgresql://x/y",
            "TRUSTLEDGER_PERSON_KEY_FILE": "/keys/p.key",
            "TRUSTLEDGER_USCC_ALLOWLIST": "/etc/allow.txt",
            "TRUSTLEDGER_BATCH_SIZE": "500",
            "TRUSTLEDGER_TIMEZONE": "UTC",
        }
    )
    assert s.db_url == "postgresql://x/y"
    assert s.person_key_file == Path("/keys/p.key")
    assert s.uscc_allowlist == Path("/etc/allow.txt")
    assert s.batch_size == 500
    assert s.today() == datetime.now(UTC).date()


def test_today_is_the_local_calendar_day() -> None:
    # records carry Chinese local dates; "today" must be Beijing's, not UTC's
    today = Settings.from_env({}).today()
    assert today == datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert isinstance(today, date)
