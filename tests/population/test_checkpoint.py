"""The population checkpoint file: what is written is read back, in the background too."""

from __future__ import annotations

import errno
import gc
import io
import json
import pickle
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch

from hyperlab.errors import InputError
from hyperlab.population import checkpoint, checkpoint_file


def _payload() -> dict[str, object]:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    return {
        "format": 1,
        "members": [
            {
                "state": {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "half": torch.arange(4, dtype=torch.float16),
                    "transposed": torch.arange(12.0).reshape(3, 4).t(),  # Fortran order
                    "strided": torch.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
                    "empty": torch.zeros(0),
                    "leaf": torch.ones(2, requires_grad=True),
                },
                "lineage": [{"epoch": 2, "copied_from": 1}],
            }
        ],
        "log": [(1, "a")],
    }


def _same(a: object, b: object) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor)
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        assert torch.equal(a.detach(), b.detach())
        return
    assert type(a) is type(b)
    assert getattr(a, "_metadata", None) == getattr(b, "_metadata", None)  # module versions
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


class _Pair(NamedTuple):
    weight: torch.Tensor
    note: str


@dataclass
class _UserState:
    """A state of a user's own making: tensors inside objects, a whole module."""

    pair: _Pair
    module: torch.nn.Module
    scalar: np.float32


def test_tensors_inside_a_users_objects_come_back_as_tensors(tmp_path: Path) -> None:
    module = torch.nn.Linear(2, 2)
    state = _UserState(_Pair(torch.arange(3.0), "x"), module, np.float32(1.5))
    extra = {
        "bf16": torch.ones(3, dtype=torch.bfloat16),
        "conj": torch.tensor([1 + 2j, 3 - 1j]).conj(),
        "complex": torch.tensor([1 + 2j]),
        "scalar": torch.tensor(7),
    }
    checkpoint.save(tmp_path, {"state": state, "extra": extra})
    loaded = checkpoint.load(tmp_path)
    assert loaded is not None
    back = loaded["state"]
    assert isinstance(back, _UserState) and isinstance(back.pair, _Pair)
    assert isinstance(back.pair.weight, torch.Tensor) and back.pair.note == "x"
    assert torch.equal(back.pair.weight, torch.arange(3.0))
    assert isinstance(back.module.weight, torch.nn.Parameter)
    assert torch.equal(back.module.weight, module.weight)
    assert back.scalar == np.float32(1.5)
    for key, tensor in extra.items():
        assert loaded["extra"][key].dtype == tensor.dtype, key
        assert torch.equal(loaded["extra"][key].resolve_conj(), tensor.resolve_conj()), key


def test_what_is_saved_is_loaded(tmp_path: Path) -> None:
    payload = _payload()
    checkpoint.save(tmp_path, payload)
    loaded = checkpoint.load(tmp_path)
    _same(payload, loaded)
    assert loaded is not None
    weight = loaded["members"][0]["state"]["model"]["weight"]  # type: ignore[index]
    weight.add_(1.0)  # a restored tensor can be trained in place


def test_the_writer_writes_in_order_and_waits(tmp_path: Path) -> None:
    writer = checkpoint.Writer(tmp_path)
    for step in range(3):
        payload = _payload() | {"steps": step}
        writer.save(payload)
    writer.wait()
    loaded = checkpoint.load(tmp_path)
    assert loaded is not None and loaded["steps"] == 2
    _same(payload, loaded)
    assert writer.seconds > 0
    assert not (tmp_path / (checkpoint.FILE + ".tmp")).exists()


def test_the_progress_is_written_beside_its_checkpoint_and_no_other(tmp_path: Path) -> None:
    """The lab reads how far a population had got without loading its checkpoint: the record
    beside it describes that checkpoint or is absent (unknown), never an earlier one."""
    writer = checkpoint.Writer(tmp_path)
    writer.save(_payload(), {"member_epochs": 8})
    writer.wait()
    record = tmp_path / checkpoint_file.PROGRESS
    assert json.loads(record.read_text()) == {"member_epochs": 8}
    writer.save(_payload(), {"member_epochs": 12})
    writer.close()
    assert json.loads(record.read_text()) == {"member_epochs": 12}
    checkpoint.save(tmp_path, _payload())  # a checkpoint with no progress given
    assert not record.exists() and (tmp_path / checkpoint.FILE).exists()


def test_the_writer_packs_before_it_returns(tmp_path: Path) -> None:
    """Containers changed after save (a member's lineage grows) do not reach that checkpoint."""
    writer = checkpoint.Writer(tmp_path)
    payload = _payload()
    writer.save(payload)
    payload["members"][0]["lineage"].append({"epoch": 4})  # type: ignore[index]
    payload["log"].append("later")  # type: ignore[attr-defined]
    writer.wait()
    loaded = checkpoint.load(tmp_path)
    assert loaded is not None
    assert loaded["members"][0]["lineage"] == [{"epoch": 2, "copied_from": 1}]
    assert loaded["log"] == [(1, "a")]


def test_a_failed_write_is_raised_to_the_caller(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    writer = checkpoint.Writer(blocked)
    writer.save(_payload())
    with pytest.raises(OSError):
        writer.wait()
    writer.wait()  # reported once


class _EarlierPickler(pickle.Pickler):
    """Pickles tensors as the layouts before 3 did: an ``_Array`` of NumPy's own pickling."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor) and obj.dtype != torch.bfloat16:
            return checkpoint._Array, (obj.detach().numpy(), obj.requires_grad)
        return NotImplemented


@pytest.mark.parametrize("layout", [1, 2])
def test_a_checkpoint_of_an_earlier_layout_is_read(layout: int, tmp_path: Path) -> None:
    payload = _payload()
    buffers: list[pickle.PickleBuffer] = []
    stream = io.BytesIO()
    callback = buffers.append if layout == 2 else None
    _EarlierPickler(stream, protocol=5, buffer_callback=callback).dump(payload)
    with open(tmp_path / checkpoint.FILE, "wb") as f:
        if layout == 2:  # an index, then the arrays' bytes
            views = [b.raw() for b in buffers]
            index = {"layout": "hyperlab-checkpoint-2", "head": stream.getvalue()}
            pickle.dump(index | {"sizes": [v.nbytes for v in views]}, f)
            for view in views:
                f.write(view)
        else:  # one pickled payload
            f.write(stream.getvalue())
    loaded = checkpoint.load(tmp_path)
    _same(payload, loaded)
    assert loaded is not None
    loaded["members"][0]["state"]["model"]["weight"].add_(1.0)  # type: ignore[index]


class _NamesFound(pickle.Unpickler):
    """Unpickles, keeping the ``(module, name)`` of each object the data names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names: list[tuple[str, str]] = []

    def find_class(self, module: str, name: str) -> Any:
        self.names.append((module, name))
        return super().find_class(module, name)


def test_files_name_their_objects_where_files_written_before_name_them(tmp_path: Path) -> None:
    """A file names what rebuilds its tensors (layout 3: ``_rebuild``), or their class (the
    layouts before: ``_Array``), by module path: ``hyperlab.population.checkpoint``, in the
    files written before that module was split too. A file that named another module would not
    resume under an earlier hyperlab; one of the earlier layouts would no longer be read."""
    checkpoint.save(tmp_path / "now", {"t": torch.ones(2)})
    with open(tmp_path / "now" / checkpoint.FILE, "rb") as f:
        index = pickle.load(f)
        buffers = [bytearray(f.read(size)) for size in index["sizes"]]
    found = _NamesFound(io.BytesIO(index["head"]), buffers=buffers)
    found.load()
    assert ("hyperlab.population.checkpoint", "_rebuild") in found.names
    # layout 1 as written before the split: protocol 2 names a class as 'c<module>\n<name>\n'
    data = pickle.dumps({"t": checkpoint_file._Array(np.ones(2), False)}, protocol=2)
    data = data.replace(
        f"c{checkpoint_file._Array.__module__}\n_Array\n".encode(),
        b"chyperlab.population.checkpoint\n_Array\n",
    )
    assert b"chyperlab.population.checkpoint\n_Array\n" in data
    (tmp_path / "before").mkdir()
    (tmp_path / "before" / checkpoint.FILE).write_bytes(data)
    loaded = checkpoint.load(tmp_path / "before")
    assert loaded is not None and torch.equal(loaded["t"], torch.ones(2, dtype=torch.float64))


def test_the_strided_tensor_really_is_not_contiguous() -> None:
    state = _payload()["members"][0]["state"]  # type: ignore[index]
    array = state["strided"].numpy()
    assert not (array.flags.c_contiguous or array.flags.f_contiguous)


def test_a_failed_write_stops_the_next_step_without_waiting(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    writer = checkpoint.Writer(blocked)
    writer.check()  # nothing written yet: nothing to raise
    writer.save(_payload())
    writer.close()  # the write has failed by now
    with pytest.raises(OSError):
        writer.check()


def _saved(tmp_path: Path) -> bytes:
    checkpoint.save(tmp_path, {"w": torch.from_numpy(np.arange(1000.0)), "log": ["x"] * 50})
    return (tmp_path / checkpoint.FILE).read_bytes()


@pytest.mark.parametrize(
    ("cut", "why"),
    [
        (lambda b: b"", "empty or cut short"),
        (lambda b: b[:40], "cannot be read"),  # inside the index
        (lambda b: b[:-100], "cut short"),  # inside the arrays
        (lambda b: b + b"\0", "bytes after its end"),
        (lambda b: b"not a pickle at all", "cannot be read"),
    ],
    ids=["empty", "index", "arrays", "trailing", "garbage"],
)
def test_a_damaged_checkpoint_is_refused_by_name(tmp_path: Path, cut: object, why: str) -> None:
    path = tmp_path / checkpoint.FILE
    path.write_bytes(cut(_saved(tmp_path)))  # type: ignore[operator]
    with pytest.raises(InputError, match=why) as info:
        checkpoint.load(tmp_path)
    assert str(path) in str(info.value) and "remove it" in str(info.value)


def test_a_checkpoint_of_a_newer_layout_is_refused_by_name(tmp_path: Path) -> None:
    with open(tmp_path / checkpoint.FILE, "wb") as f:
        pickle.dump({"layout": "hyperlab-checkpoint-9", "head": b"", "sizes": []}, f)
    with pytest.raises(InputError, match="layout 'hyperlab-checkpoint-9'"):
        checkpoint.load(tmp_path)


def test_a_write_that_fails_names_the_checkpoint_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_file.os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device") as info:
        checkpoint.save(tmp_path, _payload())
    assert info.value.errno == errno.ENOSPC
    assert str(tmp_path / checkpoint.FILE) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_whose_objects_cannot_be_imported_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "gone_module.py").write_text("class State:\n    pass\n")
    monkeypatch.syspath_prepend(str(code))
    import gone_module  # type: ignore[import-not-found]

    checkpoint.save(tmp_path / "ck", {"state": gone_module.State()})
    monkeypatch.delitem(sys.modules, "gone_module")
    (code / "gone_module.py").unlink()
    with pytest.raises(InputError, match=r"cannot import .*gone_module.*resume where"):
        checkpoint.load(tmp_path / "ck")


def _blocking_write(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, fail: bool = False
) -> tuple[threading.Event, list[int]]:
    """Make every write wait for ``release``; return an event set when the first write starts
    and the list of the steps written (or, with ``fail``, attempted before failing)."""
    started, steps = threading.Event(), []
    write = checkpoint.write_file

    def slow(workdir: Path, data: Any) -> None:
        started.set()
        assert release.wait(timeout=60), "never released"
        if fail:
            steps.append(-1)
            raise OSError(28, "No space left on device")
        write(workdir, data)
        loaded = checkpoint.load(workdir)
        assert loaded is not None
        steps.append(loaded["steps"])

    monkeypatch.setattr(checkpoint, "write_file", slow)
    return started, steps


def test_a_save_never_waits_for_a_slow_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a write hangs, saves return; the newest payload replaces one still waiting, and
    wait writes it last."""
    release = threading.Event()
    started, written = _blocking_write(monkeypatch, release)
    writer = checkpoint.Writer(tmp_path)
    writer.save(_payload() | {"steps": 0})
    assert started.wait(timeout=60)
    for step in (1, 2, 3):  # the first write hangs: none of these may block
        writer.save(_payload() | {"steps": step})
    assert written == [] and writer.replaced == 2 and writer.saves == 4
    release.set()
    writer.wait()
    assert written == [0, 3]
    writer.close()
    assert writer._thread is None


def test_a_failed_write_drops_the_waiting_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started, attempted = _blocking_write(monkeypatch, release, fail=True)
    writer = checkpoint.Writer(tmp_path)
    writer.save(_payload() | {"steps": 0})
    assert started.wait(timeout=60)
    writer.save(_payload() | {"steps": 1})
    release.set()
    with pytest.raises(OSError, match="No space left"):
        writer.wait()
    writer.close()
    assert attempted == [-1]  # the payload waiting behind a failed write is not written


def test_the_save_after_a_failed_write_raises_it(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    writer = checkpoint.Writer(blocked)
    writer.save(_payload())
    writer.close()  # the write has failed by now
    with pytest.raises(OSError):
        writer.save(_payload())


class _SeesTheCollector:
    """Records whether the garbage collector ran while it was pickled and unpickled."""

    seen: list[bool] = []

    def __reduce__(self) -> tuple[Any, ...]:
        _SeesTheCollector.seen.append(gc.isenabled())
        return (_seen_on_load, ())


def _seen_on_load() -> _SeesTheCollector:
    _SeesTheCollector.seen.append(gc.isenabled())
    return _SeesTheCollector()


@pytest.mark.parametrize("enabled", [True, False])
def test_saves_and_loads_pause_the_garbage_collector(enabled: bool, tmp_path: Path) -> None:
    """A full collection of the process must not be charged to a checkpoint; the collector
    is left as it was."""
    _SeesTheCollector.seen = []
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        writer = checkpoint.Writer(tmp_path)
        writer.save({"x": _SeesTheCollector()})
        writer.wait()
        writer.close()
        assert gc.isenabled() is enabled
        assert checkpoint.load(tmp_path) is not None
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert _SeesTheCollector.seen == [False, False]


def test_pauses_of_the_collector_in_two_threads_nest() -> None:
    """The collector comes back when the last pause ends, whichever thread began first."""
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with checkpoint.gc_paused:
            entered.set()
            assert leave.wait(timeout=60)

    was = gc.isenabled()
    gc.enable()
    try:
        thread = threading.Thread(target=other)
        thread.start()
        assert entered.wait(timeout=60)
        with checkpoint.gc_paused:
            leave.set()
            thread.join()  # the other pause has ended: this one still holds
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
