"""Property: whatever mapping of known and unknown keys with odd values arrives, the parser builds a config or
raises ConfigError, never anything else (no pydantic ValidationError, TypeError, OverflowError...)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wandb_ddp_bridge.config import BridgeConfig
from wandb_ddp_bridge.errors import ConfigError

KNOWN = BridgeConfig.field_names()
ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["auto", "never", "offline", "dryrun", "cpu", "cuda:1", "0,1", "SIGUSR1", "http://h:1/", "", " "]),
    st.binary(max_size=8),
)
ODD_VALUES = st.recursive(
    ODD_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.lists(inner, max_size=3).map(lambda items: (item for item in items)),  # one-shot iterables
    ),
    max_leaves=6,
)
KEYS = st.one_of(st.sampled_from(KNOWN), st.text(max_size=12))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    section=st.dictionaries(KEYS, ODD_VALUES, max_size=8),
    keywords=st.dictionaries(st.sampled_from(KNOWN), ODD_VALUES, max_size=4),
)
def test_any_settings_build_a_config_or_raise_config_error(section: dict[str, Any], keywords: dict[str, Any]) -> None:
    # the suite's autouse fixture has removed every WANDB_* variable: only these inputs count
    try:
        cfg = BridgeConfig.resolve({"wandb": section}, **keywords)
    except ConfigError as error:
        assert "Validation error" not in str(error) and "pydantic" not in str(error)
        return
    assert cfg.project and isinstance(cfg.tags, tuple) and all(isinstance(t, str) for t in cfg.tags)
    assert 0 < cfg.preemption_grace_seconds < cfg.resume_grace_seconds and math.isfinite(cfg.init_timeout)
    assert cfg.mode in ("online", "offline", "disabled")
