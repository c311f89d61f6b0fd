"""Tables of the WeChat channel: inbound dedupe log, pending numbered options, outbound log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.models.conversation import utcnow
from knowledge_base.db import Base


class WeChatInbound(Base):
    """Every accepted callback, once: the unique key makes WeChat's retries no-ops.

    `dedupe_key` is `msg:<MsgId>` for messages and `evt:<OpenID>:<CreateTime>:<Event>:<Key>`
    for events. `delivery` records how the answer reached the cardholder.
    """

    __tablename__ = "wechat_inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # processing | done | failed
    status: Mapped[str] = mapped_column(String(16), default="processing")
    # passive | customer_service | undeliverable | failed | none
    delivery: Mapped[str | None] = mapped_column(String(24), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)


class WeChatPendingOptions(Base):
    """The numbered options last offered to a cardholder ("回复1 …") and their payloads."""

    __tablename__ = "wechat_pending_options"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WeChatOutbound(Base):
    """One customer-service API send attempt and its result."""

    __tablename__ = "wechat_outbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    source: Mapped[str] = mapped_column(String(16))  # bot | agent | system
    msgtype: Mapped[str] = mapped_column(String(16))  # text | news
    status: Mapped[str] = mapped_column(String(16))  # sent | undeliverable | failed
    errcode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
