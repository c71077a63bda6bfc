"""The local server's sweep search: which parameters the next trial gets, for ``grid`` and ``random``.

W&B's own server runs its search in a separate service; this is the small subset a test needs: discrete
parameters (``value``, ``values``) for both methods, and ``uniform``, ``int_uniform``, ``log_uniform_values``
distributions for random search. Anything else is refused when the sweep is created, naming the parameter,
so a test never runs against a search that silently differs from W&B's.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from typing import Any

__all__ = ["SearchError", "SweepSearch", "parse_config"]

_METHODS = ("grid", "random")
_DISTRIBUTIONS = ("uniform", "int_uniform", "log_uniform_values", "categorical", "constant")


class SearchError(ValueError):
    """The sweep's configuration asks for a search this server does not implement (the message says which)."""


def parse_config(text: str | None) -> dict[str, Any]:
    """A sweep's configuration from the YAML text the client sent (``{}`` for none or one that is not a
    mapping: the search then refuses it, saying what is missing)."""
    import yaml

    try:
        parsed = yaml.safe_load(text or "")
    except yaml.YAMLError as error:
        raise SearchError(f"the sweep configuration is not valid YAML: {error}") from None
    return dict(parsed) if isinstance(parsed, Mapping) else {}


class SweepSearch:
    """The search a sweep's configuration describes; validated once, when the sweep is created."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        method = str(config.get("method") or "")
        if method == "bayes":
            raise SearchError(
                "sweep method 'bayes' is not implemented by the local W&B server; use method 'grid' or 'random' "
                "in tests (W&B's own server runs bayes)"
            )
        if method not in _METHODS:
            raise SearchError(f"sweep method {method!r} is unknown; the local W&B server runs 'grid' and 'random'")
        parameters = config.get("parameters") or {}
        if not isinstance(parameters, Mapping) or not parameters:
            raise SearchError("the sweep configuration has no 'parameters' to search")
        self.method = method
        self.parameters: dict[str, Mapping[str, Any]] = {str(k): _spec(str(k), v) for k, v in parameters.items()}
        run_cap = config.get("run_cap")
        self.run_cap: int | None = int(run_cap) if run_cap is not None else None
        if method == "grid":
            self._grid = self._grid_points()

    @property
    def size(self) -> int | None:
        """How many trials the search can give at most (``None``: unbounded), the run cap included."""
        bound = len(self._grid) if self.method == "grid" else None
        if self.run_cap is None:
            return bound
        return self.run_cap if bound is None else min(bound, self.run_cap)

    def trial(self, index: int, rng: random.Random) -> dict[str, Any] | None:
        """The parameters of trial ``index`` (0-based), or ``None`` when the search has no more."""
        size = self.size
        if size is not None and index >= size:
            return None
        if self.method == "grid":
            return dict(self._grid[index])
        return {name: _sample(spec, rng) for name, spec in self.parameters.items()}

    def _grid_points(self) -> list[dict[str, Any]]:
        axes = []
        for name, spec in self.parameters.items():
            if "values" in spec:
                axes.append([(name, v) for v in spec["values"]])
            elif "value" in spec:
                axes.append([(name, spec["value"])])
            else:
                raise SearchError(
                    f"grid search needs 'values' or 'value' for every parameter; {name!r} has a distribution "
                    f"{spec.get('distribution')!r} (use method 'random', or list its values)"
                )
        return [dict(point) for point in itertools.product(*axes)]


def _spec(name: str, spec: Any) -> Mapping[str, Any]:
    if not isinstance(spec, Mapping):
        raise SearchError(f"sweep parameter {name!r} must be a mapping such as {{'values': [...]}}, got {spec!r}")
    if "parameters" in spec:
        raise SearchError(f"nested sweep parameters ({name!r}) are not implemented by the local W&B server")
    if "values" in spec:
        if not isinstance(spec["values"], list) or not spec["values"]:
            raise SearchError(f"sweep parameter {name!r}: 'values' must be a non-empty list")
        return spec
    if "value" in spec:
        return spec
    distribution = spec.get("distribution")
    if distribution not in _DISTRIBUTIONS or "min" not in spec or "max" not in spec:
        raise SearchError(
            f"sweep parameter {name!r}: {dict(spec)!r} is not implemented by the local W&B server; it runs "
            f"'value', 'values' and the distributions {', '.join(_DISTRIBUTIONS[:3])} with 'min' and 'max'"
        )
    return spec


def _sample(spec: Mapping[str, Any], rng: random.Random) -> Any:
    if "values" in spec:
        return rng.choice(spec["values"])
    if "value" in spec:
        return spec["value"]
    low, high = spec["min"], spec["max"]
    if spec["distribution"] == "int_uniform":
        return rng.randint(int(low), int(high))
    if spec["distribution"] == "log_uniform_values":
        return math.exp(rng.uniform(math.log(float(low)), math.log(float(high))))
    return rng.uniform(float(low), float(high))
