"""The anomaly models of every series of every anomaly rule: judged in memory on each
tick, saved to the database every few minutes (``flush``) and at shutdown, loaded at
start-up, so a restart carries on judging rather than learning again. A crash loses at
most the learning since the last save; nothing it announced depends on it."""

from __future__ import annotations

import hashlib
import json

from monitors.anomaly.model import Judgement, SeriesModel
from monitors.rules.schema import Rule
from storage.db import Database
from storage.repositories import AnomalyModelRepository

Key = tuple[str, str]  # (rule name, series key)
SAVE_BATCH = 500


def fingerprint(rule: Rule) -> str:
    """What the values a rule reads mean: a model learned on other values (another
    metric, labels, aggregate or window) is no use to it."""
    spec = rule.to_json()
    what = {k: spec[k] for k in ("source", "metric", "match", "where", "aggregate", "window")}
    what["group_by"] = sorted(spec["group_by"])
    text = json.dumps(what, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class ModelStore:
    """Series models by (rule, series key). ``db`` None keeps them in memory only (a
    backtest's replay)."""

    def __init__(self, db: Database | None) -> None:
        self.db = db
        self._models: dict[Key, SeriesModel] = {}
        self._fingerprints: dict[Key, str] = {}
        self._dirty: dict[Key, float] = {}
        self._rule_marks: dict[str, tuple[Rule, str]] = {}

    async def load(self) -> int:
        """Read the saved models; returns how many."""
        if self.db is None:
            return 0
        async with self.db.read() as session:
            rows = await AnomalyModelRepository(session).all()
        for row in rows:
            model = SeriesModel.from_bytes(row.model)
            if model is not None:
                key = (row.rule, row.series_key)
                self._models[key] = model
                self._fingerprints[key] = row.fingerprint
        return len(self._models)

    def observe(self, rule: Rule, key: Key, now: float, value: float) -> Judgement | None:
        """Learn ``value`` into the series' model and judge it (None: still learning)."""
        model = self._models.get(key)
        mark = self._fingerprint_of(rule)
        if model is None or self._fingerprints.get(key) != mark:
            model = self._models[key] = SeriesModel()
            self._fingerprints[key] = mark
        self._dirty[key] = now
        return model.observe(now, value, rule.sensitivity or 1.0)

    def _fingerprint_of(self, rule: Rule) -> str:
        cached = self._rule_marks.get(rule.name)
        if cached is None or cached[0] is not rule:
            cached = self._rule_marks[rule.name] = (rule, fingerprint(rule))
        return cached[1]

    def model(self, key: Key) -> SeriesModel | None:
        return self._models.get(key)

    def forget_rule(self, rule: str) -> None:
        """Drop a rule's models from memory (its rows go with the rule's series)."""
        for key in [k for k in self._models if k[0] == rule]:
            del self._models[key]
            self._fingerprints.pop(key, None)
            self._dirty.pop(key, None)
        self._rule_marks.pop(rule, None)

    async def flush(self) -> int:
        """Save the models that learned since the last flush; returns how many."""
        if self.db is None or not self._dirty:
            return 0
        dirty, self._dirty = self._dirty, {}
        rows = [
            {
                "rule": key[0],
                "series_key": key[1],
                "fingerprint": self._fingerprints[key],
                "model": self._models[key].to_bytes(),
                "updated_at": at,
            }
            for key, at in dirty.items()
            if key in self._models
        ]
        try:
            for start in range(0, len(rows), SAVE_BATCH):
                async with self.db.transaction() as session:
                    batch = rows[start : start + SAVE_BATCH]
                    await AnomalyModelRepository(session).save_many(batch)
        except Exception:
            self._dirty = {**dirty, **self._dirty}  # saved again next time
            raise
        return len(rows)
