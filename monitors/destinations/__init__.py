"""Destinations beyond chat: what an email or webhook destination holds (``specs``),
which network addresses a webhook may reach (``network``), secrets kept encrypted at
rest (``secrets``), the severity floor (``floors``), and the verbs that list, save,
delete and test destinations (``admin``).

Importing the package imports nothing from its modules: ``monitors.routing`` uses
``specs`` while ``admin`` uses ``monitors.routing``."""
