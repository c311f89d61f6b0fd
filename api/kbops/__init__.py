"""The ops console's services for the knowledge base (api/routes/kb.py is their HTTP face).

Editing, drafts, publish and import/export live in ``knowledge_base.content``; publishing to
the bot in ``knowledge_base.search.reloader``. This package holds what needs the gateway's
records or the running retrieval service: hit test and conflict check (``retrieval``), answer
previews (``preview``), the unanswered-questions inbox and per-entry statistics (``insights``).
"""
