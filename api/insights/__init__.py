"""Service insights (issue 18): conversation sessions, NPS at the end of each session, and the
dashboard's SQL aggregates (`summary`). Quality inspection of agent episodes is `api.quality`.

The gateway calls `SessionTracker` and `NpsSurvey` on every message; the routes call `summary`.
"""
