"""Configuration read from the environment; one place that knows every setting.

The embedded default needs nothing set: data lives under ONESTOP_HOME (./var), the database
is SQLite there. Production sets ONESTOP_DATABASE_URL=postgresql://... and ONESTOP_REDIS_URL.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


def _int(name, default):
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name, default):
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


@dataclass
class Settings:
    """Everything the app factory, the CLI and the worker need to know about their environment."""

    home: Path
    database_url: str
    secret_key: str
    port: int = 8000
    max_upload_bytes: int = 32 * 1024 * 1024
    max_model_bytes: int = 5 * 1024 * 1024
    max_file_bytes: int = 10 * 1024 * 1024
    max_dossier_file_bytes: int = 100 * 1024 * 1024
    # A JSON request body: room for one file of max_file_bytes as a base64 data URL, not for megabytes of data.
    max_json_bytes: int = 16 * 1024 * 1024
    timer_poll_seconds: float = 1.0
    run_timer_thread: bool = True
    script_timeout_seconds: float = 2.0
    script_memory_mb: int = 256
    redis_url: str | None = None
    agency_code: str | None = None  # the default centre's electronic identity code (dossier codes)
    code_system: str | None = None  # 2-digit system-owner code: the national-service code variant
    proxies: int = 0  # reverse proxies in front (their X-Forwarded-For is trusted)
    smtp_url: str | None = None  # smtp://user:password@host:587 for email notifications; unset: the log
    mail_from: str = "onestop@localhost"
    sms_url: str | None = None  # an HTTP SMS gateway taking {"to", "text"}; unset: the log
    sms_token: str = ""
    secure_cookies: bool = False  # served over HTTPS (behind the reverse proxy): cookies only go over HTTPS
    testing: bool = False
    # An Engine to use instead of building one (tests share one across apps).
    engine: object = None

    def bind_senders(self):
        """Point the notification senders at what these settings configure (the log by default)."""
        from .services import notify

        notify.bind_senders(notify.SmtpSender(self.smtp_url, self.mail_from) if self.smtp_url else None,
                            notify.HttpSmsSender(self.sms_url, self.sms_token) if self.sms_url else None)

    @property
    def is_sqlite(self):
        return self.database_url.startswith("sqlite")


def _secret_key(home: Path) -> str:
    """A stable per-installation key: taken from the environment, or generated once under home."""
    key = os.environ.get("ONESTOP_SECRET_KEY")
    if key:
        return key
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_settings(**overrides) -> Settings:
    """Settings from ONESTOP_* environment variables, with keyword overrides (used by tests)."""
    home = Path(overrides.pop("home", None) or os.environ.get("ONESTOP_HOME") or "var").resolve()
    database_url = overrides.pop("database_url", None) or os.environ.get("ONESTOP_DATABASE_URL") or (
        f"sqlite:///{home / 'onestop.db'}"
    )
    settings = Settings(
        home=home,
        database_url=database_url,
        secret_key=overrides.pop("secret_key", None) or _secret_key(home),
        port=_int("ONESTOP_PORT", 8000),
        max_upload_bytes=_int("ONESTOP_MAX_UPLOAD_BYTES", 32 * 1024 * 1024),
        max_model_bytes=_int("ONESTOP_MAX_MODEL_BYTES", 5 * 1024 * 1024),
        max_file_bytes=_int("ONESTOP_MAX_FILE_BYTES", 10 * 1024 * 1024),
        max_dossier_file_bytes=_int("ONESTOP_MAX_DOSSIER_FILE_BYTES", 100 * 1024 * 1024),
        max_json_bytes=_int("ONESTOP_MAX_JSON_BYTES", 16 * 1024 * 1024),
        timer_poll_seconds=_float("ONESTOP_TIMER_POLL_SECONDS", 1.0),
        run_timer_thread=os.environ.get("ONESTOP_TIMER_THREAD", "1") not in ("0", "false", "no"),
        script_timeout_seconds=_float("ONESTOP_SCRIPT_TIMEOUT", 2.0),
        script_memory_mb=_int("ONESTOP_SCRIPT_MEMORY_MB", 256),
        redis_url=os.environ.get("ONESTOP_REDIS_URL") or None,
        secure_cookies=os.environ.get("ONESTOP_SECURE_COOKIES", "0") in ("1", "true", "yes"),
        agency_code=os.environ.get("ONESTOP_AGENCY_CODE") or None,
        proxies=_int("ONESTOP_PROXIES", 0),
        smtp_url=os.environ.get("ONESTOP_SMTP_URL") or None,
        mail_from=os.environ.get("ONESTOP_MAIL_FROM") or "onestop@localhost",
        sms_url=os.environ.get("ONESTOP_SMS_URL") or None,
        sms_token=os.environ.get("ONESTOP_SMS_TOKEN") or "",
        code_system=os.environ.get("ONESTOP_DOSSIER_CODE_SYSTEM") or None,
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings
