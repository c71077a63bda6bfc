"""History fidelity: PRE rows are history rows, and explicit training steps are rebased, never dropped."""

from __future__ import annotations

from typing import Any

from wandb_ddp_bridge import attach, detach, steps, wandb_session


class _FakeRun:
    """Records ``log`` calls the way the run receives them."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], int | None, bool | None]] = []
        self.step = 5

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        self.calls.append((dict(data), step, commit))


def test_explicit_steps_land_after_the_run_step_in_order_and_still_merge() -> None:
    run = _FakeRun()
    rebaser = steps.install(run)
    try:
        assert steps.install(run) is rebaser  # idempotent for the same run
        run.log({"train/loss": 1.0}, step=1)  # epoch 1: the first explicit step lands on the run's next step
        run.log({"lr": 0.1}, step=1)  # same step: same row
        run.log({"metrics/map": 0.2}, step=1, commit=True)
        run.log({"train/loss": 0.5}, step=2)
        run.log({"best": 0.3}, step=2, commit=True)
        run.log({"late": 1}, step=2)  # its row was committed: wandb would drop it; it joins the current row
        run.log({"curve": 1}, commit=False)
        run.log({"end": 1})
        run.log({"last": 1}, step=4)  # left open, as releases logging with steps leave their last row
    finally:
        steps.uninstall()  # commits it: what is logged next (POST) gets a row of its own
    assert run.calls == [
        ({"train/loss": 1.0}, 5, None),
        ({"lr": 0.1}, 5, None),
        ({"metrics/map": 0.2}, 5, True),
        ({"train/loss": 0.5}, 6, None),
        ({"best": 0.3}, 6, True),
        ({"late": 1}, None, False),
        ({"curve": 1}, None, False),
        ({"end": 1}, None, None),
        ({"last": 1}, 8, None),
        ({}, None, True),
    ]
    assert "log" not in vars(run) and steps.installed() is None  # the run's own log is back


def test_pre_rows_then_rebased_training_rows_then_post_rows(wandb_server: Any) -> None:
    import wandb

    with wandb_session(project="steps", base_url=wandb_server.base_url) as s:
        for shard in range(3):
            s.log({"pre/shard": shard})  # history rows, like run.log()
        with s.handoff():  # no model: the run is closed; this block stands for a training child
            run = attach()
            assert run is not None
            for epoch in range(2):  # a logger that numbers its rows itself, as Ultralytics < 8.4.184 does
                wandb.log({"train/loss": 1.0 / (epoch + 1)}, step=epoch + 1)
                run.log({"metrics/map": 0.1 * epoch}, step=epoch + 1, commit=True)
            detach()
            assert wandb.log is not None and steps.installed() is None
        s.log({"post/score": 1.0})
    [record] = wandb_server.runs()
    assert [(row["_step"], sorted(k for k in row if not k.startswith("_"))) for row in record.history] == [
        (0, ["pre/shard"]),
        (1, ["pre/shard"]),
        (2, ["pre/shard"]),
        (3, ["metrics/map", "train/loss"]),
        (4, ["metrics/map", "train/loss"]),
        (5, ["post/score"]),
    ]
