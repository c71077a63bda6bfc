"""Bridged trainer classes and callbacks, without training or a W&B backend (fast)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cloudpickle
import pytest
import ul_rig

import wandb_ddp_bridge.integrations.ultralytics as ul
from wandb_ddp_bridge import integrations
from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.integrations import TrainingContext
from wandb_ddp_bridge.integrations.ultralytics import callbacks, trainers
from wandb_ddp_bridge.signals import Terminated

HERE = Path(__file__).resolve().parent


def test_importing_the_integration_imports_no_framework() -> None:
    code = (
        "import sys, wandb_ddp_bridge.integrations.ultralytics as m\n"
        "heavy = [n for n in ('ultralytics', 'wandb', 'torch') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(m.train) and m.INTEGRATION.name == 'ultralytics'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _ultralytics_trainers() -> list[type]:
    import ultralytics.models  # noqa: F401  (imports every task's trainer)
    from ultralytics.engine.trainer import BaseTrainer

    found, pending = [], [BaseTrainer]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("ultralytics."):
                found.append(sub)
    return found


def test_every_ultralytics_trainer_has_a_bridged_class_importable_by_name() -> None:
    trainers = _ultralytics_trainers()
    assert {t.__name__ for t in trainers} >= {
        "DetectionTrainer",
        "SegmentationTrainer",
        "ClassificationTrainer",
        "PoseTrainer",
        "OBBTrainer",
    }
    for base in trainers:
        name = f"Bridged{base.__name__}"
        bridged = getattr(ul, name)
        assert issubclass(bridged, base)
        assert (bridged.__module__, bridged.__name__, bridged.__qualname__) == (ul.__name__, name, name)
        assert getattr(ul, name) is bridged  # built once: pickle and `from ... import` find the same class
        assert ul.bridged_trainer(base) is bridged
        assert ul.bridged_trainer(bridged) is bridged  # bridging twice is a no-op


def test_task_map_trainers_are_bridged() -> None:
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")
    for task, entry in model.task_map.items():
        trainer = entry.get("trainer")
        if trainer is not None:
            assert issubclass(ul.bridged_trainer(trainer), trainer), task


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_bridged_classes_pickle_by_reference(dumps: Any) -> None:
    for cls in (ul.BridgedDetectionTrainer, ul.bridged_trainer(ul_rig.CPUDDPDetectionTrainer)):
        payload = dumps(cls)
        assert pickle.loads(payload) is cls
        assert len(payload) < 300, "pickled by value: a DDP worker would not rebuild the same class"


def test_a_user_trainer_is_rebuilt_from_its_name_in_a_fresh_process() -> None:
    bridged = ul.bridged_trainer(ul_rig.CPUDDPDetectionTrainer)
    assert bridged.__name__.startswith("Bridged_") and "Trainer" in bridged.__name__  # Ultralytics checks
    # exactly what 8.3.0 - 8.4.139 write into the DDP worker script
    code = (
        f"from {bridged.__module__} import {bridged.__name__} as cls\n"
        "import ul_rig\n"
        "assert cls.__mro__[2] is ul_rig.CPUDDPDetectionTrainer, cls.__mro__\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_an_unknown_bridged_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        ul.BridgedNoSuchTrainer  # noqa: B018
    with pytest.raises(AttributeError, match="cannot import trainer"):
        ul.Bridged_no_1such_0module_2Trainer  # noqa: B018
    with pytest.raises(AttributeError):
        ul.something_else  # noqa: B018


def test_a_trainer_that_workers_cannot_import_is_refused_for_ddp_only() -> None:
    from ultralytics.models.yolo.detect import DetectionTrainer

    class LocalTrainer(DetectionTrainer):  # type: ignore[misc]
        pass

    with pytest.raises(ConfigError, match="importable module"):
        ul.bridged_trainer(LocalTrainer, spawns_workers=True)
    in_process = ul.bridged_trainer(LocalTrainer, spawns_workers=False)
    assert issubclass(in_process, LocalTrainer)


class _FakeModel:
    """An Ultralytics-shaped model whose own ``train`` only records how it was called."""

    task = "detect"

    def __init__(self) -> None:
        from ultralytics.models.yolo.detect import DetectionTrainer

        self.task_map = {"detect": {"trainer": DetectionTrainer}}
        self.calls: list[dict[str, Any]] = []

    def add_callback(self, *args: Any) -> None: ...

    def train(self, trainer: Any = None, **kwargs: Any) -> str:
        self.calls.append({"trainer": trainer, **kwargs})
        return "trained"


def _context(devices: Any = None) -> tuple[TrainingContext, list[Any], list[str]]:
    recorded: list[Any] = []
    released: list[str] = []
    ctx = TrainingContext(
        devices=devices, release_parent_run=lambda: released.append("released"), record_result=recorded.append
    )
    return ctx, recorded, released


def test_train_uses_the_bridged_task_trainer_and_the_configured_devices() -> None:
    model = _FakeModel()
    ctx, recorded, _ = _context(devices=[0, 1])
    assert integrations.find(model) is ul.INTEGRATION
    assert ul.INTEGRATION.train(model, ctx, epochs=1) == "trained"
    (call,) = model.calls
    assert call["trainer"] is ul.BridgedDetectionTrainer
    assert (call["device"], call["epochs"]) == ("0,1", 1)
    (outcome,) = recorded
    assert isinstance(outcome, ul.TrainOutcome) and outcome.results == "trained"


def test_prepare_routes_a_plain_model_train_through_the_bridge_until_the_handoff_ends() -> None:
    model = _FakeModel()
    ctx, recorded, _ = _context(devices="cpu")
    with ul.INTEGRATION.prepare(model, ctx):
        with ul.INTEGRATION.prepare(model, ctx):  # idempotent
            assert model.train(epochs=2) == "trained"
        assert model.calls[-1]["trainer"] is ul.BridgedDetectionTrainer
        assert model.calls[-1]["device"] == "cpu"
        assert len(recorded) == 1
    assert "train" not in vars(model)  # the wrapper is gone with the handoff
    assert model.train(epochs=1) == "trained" and model.calls[-1]["trainer"] is None


def test_the_registry_finds_no_integration_for_other_objects() -> None:
    assert integrations.find(None) is None
    assert integrations.find(object()) is None
    assert integrations.find(SimpleNamespace(task_map={}, add_callback=print)) is ul.INTEGRATION


def _fake_trainer(**attrs: Any) -> Any:
    callbacks: dict[str, list[Any]] = {"on_pretrain_routine_start": [], "teardown": []}
    return SimpleNamespace(callbacks=callbacks, **attrs)


def test_bridge_callbacks_go_first_on_start_and_last_on_end_events_without_duplicates() -> None:
    def native(trainer: Any) -> None: ...

    def user(trainer: Any) -> None: ...

    trainer = _fake_trainer()
    shared = trainer.callbacks
    trainer.callbacks["on_pretrain_routine_start"] += [user, native]
    trainer.callbacks["teardown"].append(native)
    trainer.callbacks["on_train_batch_end"] = [user]
    for _ in range(2):
        callbacks.install(trainer)
    start = callbacks.RankZeroCallback("on_pretrain_routine_start")
    assert trainer.callbacks["on_pretrain_routine_start"] == [start, user, native]
    assert trainer.callbacks["on_train_start"][0] == callbacks.RankZeroCallback("on_train_start")
    assert trainer.callbacks["teardown"] == [native, callbacks.RankZeroCallback("teardown", "last")]
    fit_epoch_end = trainer.callbacks["on_fit_epoch_end"]
    assert (fit_epoch_end[0].position, fit_epoch_end[-1].position) == ("first", "last")
    assert trainer.callbacks["on_train_batch_end"] == [user]  # nothing per batch
    assert shared["on_pretrain_routine_start"] == [user, native]  # the model's lists are not mutated
    assert pickle.loads(cloudpickle.dumps(start)) == start  # workers receive the callbacks pickled


def test_bridge_callbacks_do_nothing_on_other_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(callbacks, "attach", lambda: calls.append("attach"))
    monkeypatch.setattr(callbacks, "detach", lambda **_: calls.append("detach"))
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    trainer = _fake_trainer(tloss=None, metrics={}, best=Path("/nonexistent"))
    for event, position, _ in callbacks.ROWS:
        callbacks.RankZeroCallback(event, position)(trainer)
    assert calls == []
    assert not hasattr(trainer, callbacks._STATE_ATTR)
    monkeypatch.setenv("RANK", "0")
    callbacks.RankZeroCallback("on_train_start")(trainer)
    assert calls == ["attach"]
    assert callbacks.close_attachment(trainer, exit_code=0) is None  # the worker's signal guard is put back
    assert calls == ["attach", "detach"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def _worker_rank_zero_trainer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake trainer with the bridge callbacks, as global rank 0 of a launched DDP worker (no W&B calls)."""
    monkeypatch.setattr(callbacks, "attach", lambda: None)
    monkeypatch.setattr(callbacks, "detach", lambda **_: None)
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    trainer = _fake_trainer()
    callbacks.install(trainer)
    return trainer


def test_a_ddp_worker_holds_a_stop_signal_from_the_epochs_end_until_its_row_is_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ultralytics saves the epoch's checkpoint (save_model writes last.pt, then on_model_save runs) before
    on_fit_epoch_end logs its row: a SIGTERM in between would leave a checkpoint counting an epoch the run never
    received, and the next attempt resumes after it. Seen under load: the signal arrived while save_model was
    writing, before on_model_save, so the hold starts when the epoch's training ends."""
    logged: list[str] = []
    trainer = _worker_rank_zero_trainer(monkeypatch)
    trainer.callbacks["on_fit_epoch_end"].insert(1, lambda _: logged.append("row"))  # a logger after the bridge's

    def run(event: str) -> None:
        for callback in trainer.callbacks[event]:
            callback(trainer)

    try:
        run("on_train_start")  # a launched worker: the stop-signal guard is installed
        run("on_train_epoch_end")
        os.kill(os.getpid(), signal.SIGTERM)  # torch.distributed.run stopping its workers while last.pt is written
        run("on_model_save")
        with pytest.raises(Terminated):
            run("on_fit_epoch_end")
        assert logged == ["row"], "every on_fit_epoch_end callback ran before the worker stopped"
    finally:
        callbacks.close_attachment(trainer, exit_code=1)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_without_a_checkpoint_save_a_stop_signal_acts_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _worker_rank_zero_trainer(monkeypatch)
    try:
        callbacks.RankZeroCallback("on_train_start")(trainer)
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
        callbacks.RankZeroCallback("on_fit_epoch_end", "last")(trainer)  # nothing held: nothing to raise
    finally:
        callbacks.close_attachment(trainer, exit_code=1)


def test_native_callback_detection_looks_at_this_trainers_callbacks() -> None:
    from ultralytics.utils.callbacks import wb

    trainer = _fake_trainer()
    assert not ul.native_wandb_active(trainer)
    trainer.callbacks["on_fit_epoch_end"] = [wb.on_fit_epoch_end]
    assert ul.native_wandb_active(trainer)


def test_bridged_names_round_trip() -> None:
    for module, qualname in [("a.b_c", "T"), ("pkg_.mod", "Outer.Inner_Trainer"), ("x", "__T__")]:
        name = trainers._class_name(
            type(qualname.rsplit(".")[-1], (), {"__module__": module, "__qualname__": qualname})
        )
        assert name.isidentifier()
        assert trainers._unescape_pair(name[len("Bridged_") :]) == (module, qualname)


def test_native_wandb_callbacks_are_contained_and_still_picklable() -> None:
    from ultralytics.utils.callbacks import wb

    from wandb_ddp_bridge.integrations.ultralytics import containment

    trainer = _fake_trainer()
    trainer.callbacks["on_fit_epoch_end"] = [wb.on_fit_epoch_end]
    for _ in range(2):
        callbacks.install(trainer)
    [ours, native, ours_after] = trainer.callbacks["on_fit_epoch_end"]
    assert ours == callbacks.RankZeroCallback("on_fit_epoch_end")
    assert ours_after == callbacks.RankZeroCallback("on_fit_epoch_end", "last")
    assert native == containment.ContainedNative("on_fit_epoch_end", wb.on_fit_epoch_end)  # wrapped once
    assert ul.native_wandb_active(trainer)
    assert pickle.loads(cloudpickle.dumps(native)) == native  # workers receive the callbacks pickled
    # under pytest Ultralytics' `wb` is None: the native callback raises, the wrapper contains it
    native(SimpleNamespace(plots={}, validator=SimpleNamespace(plots={}), epoch=1, metrics={}))
