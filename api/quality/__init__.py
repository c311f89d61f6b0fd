"""Quality inspection (质检) of resolved agent episodes: rules (`rules.py`), the cardholder's
escalation-risk model (`model.py`), and flags with a supervisor review (`service.py`)."""
