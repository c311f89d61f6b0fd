"""Every table of the service database, listed explicitly (Alembic reads this list).

The gateway's records (`conversation`), the human desk's (`handoff`), the WeChat channel's
(`wechat`) and the service insights' (`insights`) share one declarative base with the knowledge
base's release and console tables (`knowledge_base.content.store`, `knowledge_base.content.drafts`).
"""

from api.models.conversation import Conversation, KBEvent, Message, StaffUser, utcnow
from api.models.handoff import Handoff, Secretary, Survey, Ticket, Transition
from api.models.insights import NpsResponse, QualityFlag, QualityInspection, ServiceSession
from api.models.wechat import WeChatInbound, WeChatOutbound, WeChatPendingOptions
from knowledge_base.content.drafts import KBAudit, KBDraft, KBInboxResolved
from knowledge_base.content.store import KBEntryVersion, KBRelease
from knowledge_base.db import Base

__all__ = ["Base", "Conversation", "Handoff", "KBAudit", "KBDraft", "KBEntryVersion", "KBEvent",
           "KBInboxResolved", "KBRelease", "Message", "NpsResponse", "QualityFlag",
           "QualityInspection", "Secretary", "ServiceSession", "StaffUser", "Survey", "Ticket",
           "Transition", "WeChatInbound", "WeChatOutbound", "WeChatPendingOptions", "utcnow"]
