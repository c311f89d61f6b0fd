"""The human desk of one API process, assembled from its parts (one role per file):

* `core`: shared configuration, transcript writer, race-safe state changes, events that are
  announced only after the transaction commits (`events`);
* `read_models`: status, queue position, transcripts, queues and tickets as typed views;
* `rasa_sync`: pausing, resuming and mirroring messages into the Rasa tracker;
* `tickets`: leaving a message, the queue timeout and its sweeper;
* `cardholder`: entering the queue, messages to the desk, cancelling, the survey;
* `desk`: agent commands (status, accept, message, transfer, resolve);
* `secretary_desk`: supervisors' secretary (安心秘书) assignments (`secretary`: the routing).

DB work is synchronous (short SQLite/PostgreSQL statements); the methods that also talk to
Rasa are async and take the Rasa client as an argument.
"""

from __future__ import annotations

from api.handoff.secretary_desk import SecretaryDesk
from api.handoff.views import HandoffReply


class HandoffService(SecretaryDesk):
    """Everything the gateway, the routes and the sweeper call."""


__all__ = ["HandoffReply", "HandoffService"]
