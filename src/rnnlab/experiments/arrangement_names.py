"""Seed 002's arrangement names, for the experiment layer (parsed in :mod:`rnnlab.models`,
the lower layer, which builds models from them; this module only re-exports)."""

from rnnlab.models.arrangements import SEED_ARRANGEMENTS, ArrangementName, parse_arrangement

__all__ = ["SEED_ARRANGEMENTS", "ArrangementName", "parse_arrangement"]
