"""Incidents: the state machine, their lifecycle, what people do to them, and the news
each change makes."""
