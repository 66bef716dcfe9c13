"""Replaying rules over past samples through the real engine: from a CSV file
(``run.py backtest``) or from Tocsin's own history (``monitors.backtest.history``)."""
