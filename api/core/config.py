"""Settings of the service runtime (API + retrieval), read from the environment."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge_base.config import KBConfig

# Development defaults are the values documented in .env.example. In production none of these
# may stay: a default secret would let anyone call Rasa or the internal APIs.
DEV_SECRETS = {
    "rasa_token": "dev-rasa-token-change-me",
    "internal_api_token": "dev-internal-token-change-me",
    "jwt_secret": "dev-jwt-secret-change-me-0123456789abcdef",
    "wechat_token": "dev-wechat-token-change-me",
    "wechat_app_secret": "dev-wechat-app-secret-change-me",
    "wechat_aes_key": "devWeChatAesKeyChangeMe0123456789abcdefghij",
    "web_identity_secret": "dev-web-identity-secret-change-me",
    "conversation_token_secret": "dev-conversation-token-secret-change-me",
    "pii_encryption_key": "dev-pii-encryption-key-change-me",
}


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character WeChat EncodingAESKey; ValueError if malformed
    (checked here so a bad key stops the start, and used by the WeChat channel's crypto)."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be exactly 43 characters (base64 of 32 bytes)")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


class Settings(BaseSettings):
    """Service-runtime configuration."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    app_env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = "sqlite:///var/app.db"
    log_level: str = "INFO"

    rasa_url: str = "http://127.0.0.1:5005"
    # A warm standby Rasa on the same tracker store (`make run` starts one, api/supervision.py):
    # a message that cannot reach RASA_URL goes to it at once. Empty: no standby.
    rasa_standby_url: str = ""
    rasa_token: str = DEV_SECRETS["rasa_token"]
    rasa_timeout: float = 20.0
    # Degraded mode (api/conversation/degraded.py): a bot turn gets at most this long; slower,
    # failing or unreachable bots are answered from the in-process KB instead. Keep it below
    # WECHAT_PASSIVE_TIMEOUT_SECONDS so WeChat gets that answer passively (its 5-second rule).
    # 2.5 s: a FAQ turn answered from the KB after the budget must still arrive within 3 s
    # (issue 17), and the KB search takes up to ~0.5 s on a loaded 2-core box.
    bot_budget_seconds: float = 2.5
    # The bot's circuit breaker: opens after this many consecutive failures, probes again after
    # this many seconds (one half-open request).
    bot_breaker_failures: int = 3
    bot_breaker_reset_seconds: float = 5.0
    # Load shedding: at most this many bot turns in flight per API process; more are answered
    # from the KB at once (degraded, reason "busy"), and beyond this many KB-only turns the
    # chat answers 429 with Retry-After (nothing stored; the client retries). 0: no limit.
    bot_max_inflight: int = 48
    # ... and fewer while the bot is slow (api/conversation/limiter.py): a turn slower than
    # BOT_TARGET_SECONDS halves the limit (at most once per that many seconds), each faster one
    # raises it by 1/limit, never below BOT_MIN_INFLIGHT. Keep the target below the budget.
    bot_target_seconds: float = 2.0
    bot_min_inflight: int = 4
    degraded_max_inflight: int = 32
    busy_retry_after_seconds: int = 2
    # POST /api/v1/chat answers a `Server-Timing` header with the turn's serial steps (ms):
    # the latency breakdown of `python -m bench gateway_latency`. Off: it tells outsiders how
    # the service works inside.
    server_timing: bool = False
    # Live hub across API replicas (production mode): Redis pub/sub; empty = in-process hub.
    hub_redis_url: str = ""
    hub_redis_channel: str = "cardbot:hub"
    actions_url: str = "http://127.0.0.1:5055/webhook"

    internal_api_token: str = DEV_SECRETS["internal_api_token"]
    embedding_model_dir: Path = Path("var/models/e5-small")
    index_dir: Path = Path("var/index")
    kb_seed_dir: Path = Path("knowledge_base/seed")
    # Query understanding before retrieval (knowledge_base/search/query.py): the deploying
    # bank's names, stripped from questions (comma-separated; 中国XX银行, XX银行, XX行, app name
    # as "name=App", English initials; empty = the demo bank 本行), and extra other-issuer names
    # ("name" or "name=display name") on top of the built-in list.
    bank_names: str = ""
    other_issuers: str = ""

    max_message_chars: int = 2000
    # KB ops console (api/routes/kb.py): import limits, inbox clustering, statistics.
    kb_import_max_bytes: int = 10 * 1024 * 1024
    kb_import_max_rows: int = 5000
    # An answer whose confidence was less than this above its calibrated answer threshold goes
    # to the inbox as low-confidence (api/kbops/insights.py).
    kb_inbox_confidence_margin: float = 0.1
    # Legacy: answers recorded without their confidence count as low-confidence below this
    # entry score (cosine scale).
    kb_inbox_low_confidence: float = 0.92
    # Inbox questions merge into one group while their mean cosine distance is below this.
    kb_inbox_cluster_distance: float = 0.08
    kb_inbox_max_questions: int = 1000
    # A handoff counts as "right after the answer" within this many further user turns.
    kb_stats_handoff_turns: int = 1
    # Conflict check: warn when another entry's question is at least this much closer.
    kb_conflict_margin: float = 0.0
    # A publish waits up to this long for the bot to switch (the swap finishes in any case).
    kb_publish_wait_seconds: float = 5.0
    # How often the API checks for releases published by another process (0: never).
    kb_release_poll_seconds: float = 5.0
    # Card-account store (read by the agent desk for tier and masked cards)
    card_db_url: str = "sqlite:///var/cards.db"

    # Staff auth (agent / ops consoles): HS256 bearer JWTs, bcrypt password hashes.
    jwt_secret: str = DEV_SECRETS["jwt_secret"]
    jwt_ttl_minutes: int = 480
    bcrypt_rounds: int = 12
    # Demo staff accounts, seeded at startup in development and test only (never in production).
    demo_agent_user: str = "agent"
    demo_agent_password: str = "agent-dev-pass"
    demo_supervisor_user: str = "supervisor"
    demo_supervisor_password: str = "supervisor-dev-pass"
    demo_ops_user: str = "ops"
    demo_ops_password: str = "ops-dev-pass"
    demo_admin_user: str = "admin"
    demo_admin_password: str = "admin-dev-pass"

    # Human handoff: working hours (local time), queue and estimates.
    handoff_hours: str = "00:00-24:00"
    handoff_weekdays: str = "1-7"
    handoff_timezone: str = "Asia/Shanghai"
    handoff_queue_timeout_seconds: int = 900
    handoff_avg_handle_seconds: int = 240
    handoff_agent_capacity: int = 3
    handoff_priority_reasons: str = "fraud_dispute"
    handoff_sweep_seconds: float = 15.0
    # The VIP's own secretary (安心秘书, issue 19): how long a VIP episode is offered only to
    # the cardholder's own agent before the VIP group may take it (0: never offer).
    handoff_secretary_offer_seconds: int = 120

    # WeChat Official Account channel (api/channels/wechat). Token and EncodingAESKey are the
    # values entered under 公众号后台 > 设置与开发 > 基本配置 > 服务器配置.
    # Service insights (issue 18): sessions, NPS at the end, the dashboard, quality inspection.
    insights_session_gap_minutes: int = 60  # a quiet gap this long starts a new session
    insights_nps_enabled: bool = True
    insights_utc_offset_hours: int = 8  # the dashboard's days are Beijing time
    insights_helped_within_seconds: int = 300  # "helped within 5 minutes"
    quality_first_response_seconds: int = 60
    quality_reply_seconds: int = 180
    quality_risk_threshold: float = 0.5

    wechat_token: str = DEV_SECRETS["wechat_token"]
    wechat_app_id: str = "wxd000000000000dev"
    wechat_app_secret: str = DEV_SECRETS["wechat_app_secret"]
    wechat_aes_key: str = DEV_SECRETS["wechat_aes_key"]
    # The EncodingAESKey before the last rotation (empty: none); still accepted for decryption.
    wechat_aes_key_previous: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_api_timeout: float = 10.0
    wechat_timestamp_window_seconds: int = 300
    wechat_max_body_bytes: int = 65536
    # WeChat drops the request after 5 s: answer passively only if the bot is faster than this.
    wechat_passive_timeout_seconds: float = 4.5
    wechat_text_max_bytes: int = 2048
    wechat_max_messages_per_turn: int = 5
    wechat_menu_file: Path = Path("api/channels/wechat/menu_keys.json")
    wechat_options_ttl_seconds: int = 1800
    wechat_token_refresh_margin_seconds: int = 300
    wechat_dedupe_retention_hours: int = 48

    # Trust boundaries (issue 16). The bank's server signs the cardholder's user id:
    # identity_hash = hex HMAC-SHA256(user_id, WEB_IDENTITY_SECRET); or it issues a short-lived
    # HS256 JWT (sub = user id) with WEB_IDENTITY_JWT_SECRET (empty: JWTs not accepted).
    web_identity_secret: str = DEV_SECRETS["web_identity_secret"]
    web_identity_jwt_secret: str = ""
    web_identity_jwt_max_ttl_seconds: int = 900
    # Development/test only: GET /api/v1/dev/identity signs the README's demo cardholders for
    # the demo page. Never served in production, whatever this says.
    web_identity_demo_signing: bool = True
    # Key of the per-conversation bearer credential (conversation_token).
    conversation_token_secret: str = DEV_SECRETS["conversation_token_secret"]
    # Seals ticket callback numbers at rest (api/core/vault.py); rotating it makes older
    # sealed numbers unreadable (shown as missing), so keep the old value while tickets are open.
    pii_encryption_key: str = DEV_SECRETS["pii_encryption_key"]
    # Rate limits (the `limits` library's notation, e.g. "20/minute"); storage memory:// or
    # redis://host:port/db (shared by every API process).
    rate_limit_storage_url: str = "memory://"
    rate_limit_chat_per_user: str = "20/minute"
    rate_limit_chat_per_conversation: str = "30/minute"
    rate_limit_chat_per_ip: str = "600/minute"
    # New anonymous visitors (an unsigned first message without a conversation_token: a new
    # server-issued visitor and conversation) per client address. Each such message is a new
    # identity, so the per-user and per-conversation limits never build up for a script that
    # drops its credential; this is what stops it. Signed cardholders, visitors who keep their
    # conversation_token and WeChat (its own openid) never count here. Many cardholders behind
    # one NAT share an address: raise it there rather than turn it off.
    rate_limit_chat_new_visitors_per_ip: str = "20/minute"
    rate_limit_login_failures: str = "5/15minutes"
    rate_limit_wechat_per_openid: str = "20/minute"
    # Browser-side safety: origins that may call the API cross-origin (CORS) and that may frame
    # the pages (CSP frame-ancestors), comma-separated; empty: same origin only.
    allowed_origins: str = ""
    frame_ancestors: str = ""
    # Reverse proxies whose X-Forwarded-For names the real client (comma-separated addresses
    # or CIDR networks, e.g. the nginx of compose.yml). The client address (per-IP limits, the
    # login lockout) is then the right-most X-Forwarded-For hop that is not one of them; from
    # any other peer the header is ignored, so a client cannot pick its own address. Empty:
    # trust none (no proxy in front, `make run`), the peer address is the client.
    trusted_proxies: str = ""
    # Largest request body accepted (bytes) outside the KB import upload.
    max_body_bytes: int = 65536

    @property
    def demo_signing_enabled(self) -> bool:
        """Demo identity signing runs in development and test only."""
        return self.web_identity_demo_signing and self.app_env != "production"

    @staticmethod
    def _csv(value: str) -> list[str]:
        return [v.strip() for v in value.split(",") if v.strip()]

    @property
    def allowed_origin_list(self) -> list[str]:
        """ALLOWED_ORIGINS as a list."""
        return self._csv(self.allowed_origins)

    @property
    def frame_ancestor_list(self) -> list[str]:
        """FRAME_ANCESTORS as a list."""
        return self._csv(self.frame_ancestors)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """TRUSTED_PROXIES as a list."""
        return self._csv(self.trusted_proxies)

    def secret_values(self) -> list[str]:
        """Every configured secret (for the log redaction), URL passwords included."""
        names = [*DEV_SECRETS, "wechat_aes_key_previous", "web_identity_jwt_secret",
                 "demo_agent_password", "demo_supervisor_password", "demo_ops_password",
                 "demo_admin_password"]
        values = [str(getattr(self, n)) for n in names]
        for url in (self.database_url, self.card_db_url, self.rate_limit_storage_url):
            password = urlsplit(url).password
            if password:
                values.append(password)
        return [v for v in values if v]

    def single_process_parts(self) -> list[str]:
        """In production, what would stay per process (and so differ between API replicas):
        one line each, logged at startup. Not refused: one replica without Redis is valid."""
        if self.app_env != "production":
            return []
        parts = []
        if self.rate_limit_storage_url.startswith("memory://"):
            parts.append("RATE_LIMIT_STORAGE_URL is memory://: rate limits count per API "
                         "process (set redis://… when several replicas serve)")
        if not self.hub_redis_url:
            parts.append("HUB_REDIS_URL is empty: live events reach only the WebSockets of this "
                         "API process (set redis://… when several replicas serve)")
        return parts

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.app_env == "production":
            weak = [name for name, dev in DEV_SECRETS.items() if getattr(self, name) in ("", dev)]
            if weak:
                raise ValueError(f"production mode needs real secrets for: {', '.join(weak)}")
        return self

    @model_validator(mode="after")
    def _strong_jwt_secret_in_production(self) -> Settings:
        if self.app_env == "production" and len(self.jwt_secret) < 32:
            raise ValueError("production mode needs a JWT_SECRET of at least 32 characters")
        return self

    @model_validator(mode="after")
    def _wechat_aes_keys_are_well_formed(self) -> Settings:
        for name in ("wechat_aes_key", "wechat_aes_key_previous"):
            value = getattr(self, name)
            if value or name == "wechat_aes_key":
                try:
                    decode_aes_key(value)
                except ValueError as exc:
                    raise ValueError(f"{name.upper()}: {exc}") from exc
        return self


    def kb_config(self) -> KBConfig:
        """The knowledge layer's own config (its fields are copied by name from these)."""
        return KBConfig.from_object(self)


@lru_cache
def get_settings() -> Settings:
    """Settings built once, on first use."""
    return Settings()
