"""Supervisor commands on secretaries (安心秘书): list, assign, clear (see `secretary.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.handoff.desk import DeskCommands
from api.handoff.secretary import SUPERVISOR
from api.handoff.views import iso
from api.models import Secretary, StaffUser
from vocab import DESK_ROLES, DomainError, ErrorKind


class SecretaryDesk(DeskCommands):
    """Supervisors see, set and clear secretaries; learning and offering hook into the desk."""

    def _find_agent(self, db: Session, username: str) -> StaffUser:
        agent = db.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if agent is None or not agent.active or agent.role not in DESK_ROLES:
            raise DomainError(ErrorKind.INVALID, "unknown_agent", "没有这个客服账号。",
                              f"'{username}' is not an active desk agent.")
        return agent

    @staticmethod
    def _secretary_view(row: Secretary, agent: StaffUser | None) -> dict[str, Any]:
        return {"user_id": row.user_id, "agent": agent.username if agent else None,
                "agent_name": agent.display_name if agent else "",
                "agent_no": (agent.agent_no or str(agent.id)) if agent else "",
                "source": row.source, "set_by": row.set_by, "updated_at": iso(row.updated_at)}

    def secretaries(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Every assignment (or one cardholder's), newest first."""
        with self._sessions() as db:
            query = select(Secretary).order_by(Secretary.updated_at.desc())
            if user_id:
                query = query.where(Secretary.user_id == user_id)
            rows = db.scalars(query).all()
            staff = {u.id: u for u in db.scalars(select(StaffUser))}
            return [self._secretary_view(r, staff.get(r.agent_id)) for r in rows]

    def assign_secretary(self, user_id: str, username: str, by: StaffUser) -> dict[str, Any]:
        """A supervisor makes `username` the cardholder's secretary."""
        user_id = user_id.strip()
        if not user_id or len(user_id) > 128:
            raise DomainError(ErrorKind.INVALID, "invalid_user_id", "持卡人编号不正确。",
                              "user_id must be 1-128 characters.")
        with self._sessions() as db:
            agent = self._find_agent(db, username)
            now = self.clock()
            row = db.get(Secretary, user_id)
            if row is None:
                row = Secretary(user_id=user_id, agent_id=agent.id, source=SUPERVISOR,
                                set_by=by.username, updated_at=now)
                db.add(row)
            else:
                row.agent_id, row.source, row.set_by, row.updated_at = (
                    agent.id, SUPERVISOR, by.username, now)
            db.flush()
            view = self._secretary_view(row, agent)
            db.commit()
            return view

    def clear_secretary(self, user_id: str) -> None:
        """Remove the cardholder's secretary (404 when there is none)."""
        with self._sessions() as db:
            row = db.get(Secretary, user_id)
            if row is None:
                raise DomainError(ErrorKind.NOT_FOUND, "no_secretary", "该持卡人没有专属客服。",
                                  f"No secretary is assigned to '{user_id}'.")
            db.delete(row)
            db.commit()
