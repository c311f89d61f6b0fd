"""Rasa SDK action server: KB answers, self-service flows, handoff."""
