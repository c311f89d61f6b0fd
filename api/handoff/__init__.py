"""Human handoff: conversation state machine, priority queue, agent desk and survey.

`state` holds the explicit state machine, `queue` the ordering/estimates, `service` the
operations the gateway and the agent routers call, `hub` the in-process WebSocket fan-out.
"""
