"""Tocsin watching itself: its sources, its deliveries, and its own tick loop."""
