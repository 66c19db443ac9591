"""Property-based tests: whatever bytes or shapes a data file holds, the readers either load it or
raise sbrzoo's own error (a :class:`~sbrzoo.errors.SbrzooError`) with a one-line message.

Covered: the restricted pickle reader (random bytes, damaged valid pickles, random nested shapes
pickled with every protocol 0-5), the SR-GNN folder readers and ``load_dataset`` on them, the raw
Diginetica / Yoochoose log readers (random bytes and random near-valid lines), and the side files
of ``sbrzoo data prepare``. Each property runs at most 100 examples, without deadline, and keeps
no example database (nothing is written into the project).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbrzoo.data.extras import ITEM_MAP_FILE, SESSION_TIMES_FILE, load_item_map, load_session_times
from sbrzoo.data.pickles import load_pickle
from sbrzoo.data.raw import read_raw
from sbrzoo.data.registry import load_dataset
from sbrzoo.data.sources import SESSIONS_FILE, TEST_FILE, TRAIN_FILE, read_examples, read_folder, read_sessions
from sbrzoo.errors import SbrzooError

FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = settings(FUZZ, max_examples=50)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per module, rewritten by every example."""
    return tmp_path_factory.mktemp("fuzz")


def loads_or_own_error(read: Callable[[], Any]) -> Any:  # noqa: ANN401 - whatever the reader returns
    """Call ``read``: a result, or None after an SbrzooError with a one-line message."""
    try:
        return read()
    except SbrzooError as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        return None


# --- shapes -----------------------------------------------------------------------------------------

ids = st.one_of(st.integers(min_value=1, max_value=60), st.integers(min_value=-3, max_value=2**70),
                st.booleans())
scalars = st.one_of(ids, st.none(), st.floats(allow_nan=True), st.text(max_size=5),
                    st.binary(max_size=5))
shapes = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.lists(inner, max_size=4).map(tuple),
                            st.dictionaries(st.integers(0, 5), inner, max_size=3),
                            st.frozensets(st.integers(0, 9), max_size=3)),
    max_leaves=30)
int_lists = st.lists(st.lists(ids, max_size=6), max_size=8)
near_sessions = st.one_of(int_lists, shapes)
near_examples = st.one_of(st.tuples(int_lists, st.lists(ids, max_size=8)), shapes,
                          st.tuples(shapes, shapes))
protocols = st.integers(min_value=0, max_value=pickle.HIGHEST_PROTOCOL)


def dump(obj: object, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


# --- the pickle reader ----------------------------------------------------------------------------


@FUZZ
@given(content=st.binary(max_size=300))
def test_random_bytes_as_a_pickle(scratch: Path, content: bytes) -> None:
    path = scratch / "random.pkl"
    path.write_bytes(content)
    loads_or_own_error(lambda: load_pickle(path))


@FUZZ
@given(obj=near_sessions, protocol=protocols, data=st.data())
def test_damaged_pickles(scratch: Path, obj: object, protocol: int, data: st.DataObject) -> None:
    content = bytearray(dump(obj, protocol))
    for _ in range(data.draw(st.integers(1, 4))):  # flip, drop or insert bytes, or truncate
        kind = data.draw(st.sampled_from(["flip", "drop", "insert", "truncate"]))
        position = data.draw(st.integers(0, max(len(content) - 1, 0)))
        if kind == "flip" and content:
            content[position] = data.draw(st.integers(0, 255))
        elif kind == "drop" and content:
            del content[position]
        elif kind == "insert":
            content.insert(position, data.draw(st.integers(0, 255)))
        else:
            del content[position:]
    path = scratch / SESSIONS_FILE
    path.write_bytes(bytes(content))
    loads_or_own_error(lambda: read_sessions(path))


@FUZZ
@given(obj=near_sessions, protocol=protocols)
def test_random_shapes_as_training_sessions(scratch: Path, obj: object, protocol: int) -> None:
    path = scratch / SESSIONS_FILE
    path.write_bytes(dump(obj, protocol))
    sessions = loads_or_own_error(lambda: read_sessions(path))
    if sessions is not None:  # only lists of non-empty lists of ints >= 1 load
        assert sessions.items.dtype == np.int64 and (sessions.items >= 1).all()
        assert (sessions.lengths >= 1).all()


@FUZZ
@given(obj=near_examples, protocol=protocols)
def test_random_shapes_as_prefix_examples(scratch: Path, obj: object, protocol: int) -> None:
    path = scratch / TEST_FILE
    path.write_bytes(dump(obj, protocol))
    examples = loads_or_own_error(lambda: read_examples(path))
    if examples is not None:
        assert len(examples.targets) == len(examples.offsets) - 1
        assert (examples.targets >= 1).all() and (examples.lengths >= 1).all()


@SMALL
@given(train=near_sessions, test=near_examples, protocol=protocols, use_train_txt=st.booleans(),
       split=st.sampled_from(["last_sessions", "random", "none"]),
       fraction=st.floats(min_value=0.01, max_value=0.99))
def test_random_folders_through_load_dataset(scratch: Path, train: object, test: object, protocol: int,
                                             use_train_txt: bool, split: str, fraction: float) -> None:
    folder = scratch / "folder"
    folder.mkdir(exist_ok=True)
    for name in (SESSIONS_FILE, TRAIN_FILE, TEST_FILE):
        (folder / name).unlink(missing_ok=True)
    if use_train_txt:  # a (prefixes, targets) pair: build it from the sessions shape
        (folder / TRAIN_FILE).write_bytes(dump(test if not isinstance(train, list) else (train, train), protocol))
    else:
        (folder / SESSIONS_FILE).write_bytes(dump(train, protocol))
    (folder / TEST_FILE).write_bytes(dump(test, protocol))
    loads_or_own_error(lambda: read_folder(folder))
    dataset = loads_or_own_error(lambda: load_dataset(data_dir=folder, valid_split=split,
                                                      valid_fraction=fraction))
    if dataset is not None:  # a dataset that loads can be trained and evaluated
        assert len(dataset.train) > 0 and len(dataset.test) > 0
        assert dataset.valid is None or len(dataset.valid) > 0
        assert dataset.num_items <= 10 * 60 + 100_000  # ids are 1..N, N near the item count


# --- raw click logs -------------------------------------------------------------------------------

FORMATS = st.sampled_from(["diginetica", "yoochoose"])
tokens = st.one_of(
    st.sampled_from(["1", "42", "-7", "0", "", " ", "NA", "x", "1.5", "99999999999999999999",
                     "2016-05-01", "2016-13-01", "2016-02-30", "12/05/2016", "2014-04-01T10:00:00.000Z",
                     "2014-04-31T10:00:00.000Z", "2014-04-01T25:00:00Z", "2014-04-01", "sessionId",
                     "session_id", "itemId", "item_id", "timeframe", "eventdate", "userId", '"', "\x00",
                     "\ufeff", "é", "\t"]),
    st.text(max_size=6))
separators = st.sampled_from([";", ",", "\t", "|", ";;"])
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def near_logs(draw: st.DrawFn) -> bytes:
    """Text of a few lines of plausible and implausible fields, maybe with a BOM or bad bytes."""
    header = draw(st.sampled_from(["sessionId;userId;itemId;timeframe;eventdate",
                                   "session_id;user_id;item_id;timeframe;eventdate",
                                   "eventdate;itemId;sessionId;timeframe", "", None]))
    lines = [] if header is None else [header]
    for _ in range(draw(st.integers(0, 8))):
        fields = draw(st.lists(tokens, min_size=0, max_size=6))
        lines.append(draw(separators).join(fields))
    text = draw(line_ends).join(lines) + draw(st.sampled_from(["", "\n"]))
    content = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        content = b"\xef\xbb\xbf" + content
    if draw(st.booleans()):
        content += draw(st.binary(max_size=8))
    return content


@FUZZ
@given(content=st.binary(max_size=400), fmt=FORMATS)
def test_random_bytes_as_a_raw_log(scratch: Path, content: bytes, fmt: str) -> None:
    path = scratch / "raw.log"
    path.write_bytes(content)
    loads_or_own_error(lambda: read_raw(path, fmt))


@FUZZ
@given(content=near_logs(), fmt=FORMATS)
def test_near_valid_raw_logs(scratch: Path, content: bytes, fmt: str) -> None:
    path = scratch / "near.log"
    path.write_bytes(content)
    raw = loads_or_own_error(lambda: read_raw(path, fmt))
    if raw is not None:
        assert len(raw.clicks) > 0 and raw.clicks["item"].min() >= 0
        assert raw.clicks["item"].max() < len(raw.item_ids)


@st.composite
def valid_diginetica_logs(draw: st.DrawFn) -> bytes:
    """Well-formed Diginetica logs over a few items and days: reading must succeed."""
    rows = ["sessionId;userId;itemId;timeframe;eventdate"]
    for _ in range(draw(st.integers(1, 30))):
        rows.append(f"{draw(st.integers(1, 6))};NA;{draw(st.integers(1, 8))};{draw(st.integers(0, 99))};"
                    f"2016-05-{draw(st.integers(1, 28)):02d}")
    return ("\n".join(rows) + "\n").encode()


@SMALL
@given(content=valid_diginetica_logs())
def test_well_formed_diginetica_logs_always_read(scratch: Path, content: bytes) -> None:
    path = scratch / "ok.csv"
    path.write_bytes(content)
    raw = read_raw(path, "diginetica")
    assert len(raw.clicks) == content.count(b"\n") - 1


# --- side files -----------------------------------------------------------------------------------


@FUZZ
@given(content=st.one_of(st.binary(max_size=200), near_logs().map(lambda b: b"sbrzoo_id\traw_item_id\n" + b)))
def test_random_item_maps(scratch: Path, content: bytes) -> None:
    (scratch / ITEM_MAP_FILE).write_bytes(content)
    loads_or_own_error(lambda: load_item_map(scratch, num_items=3))


@FUZZ
@given(content=st.binary(max_size=200), prefix=st.sampled_from([b"", b"\x93NUMPY\x01\x00"]))
def test_random_session_time_files(scratch: Path, content: bytes, prefix: bytes) -> None:
    (scratch / SESSION_TIMES_FILE).write_bytes(prefix + content)
    loads_or_own_error(lambda: load_session_times(scratch))


# --- hostile opcodes found while fuzzing or by reading the pickle machine --------------------------

HOSTILE = {
    "BYTEARRAY8 longer than memory": b"\x80\x05\x96" + (2**63).to_bytes(8, "little"),
    "BINBYTES8 longer than memory": b"\x80\x04\x8e" + (2**62).to_bytes(8, "little"),
    "BINUNICODE8 overflow": b"\x80\x04\x8d" + (2**63 - 1).to_bytes(8, "little"),
    "FRAME overflow": b"\x80\x04\x95" + (2**63 - 1).to_bytes(8, "little") + b".",
    "LONG4 truncated": b"\x80\x02\x8a\xff\xff\xff\x7f",
    "a million MARKs": b"(" * 1_000_000 + b".",
    "memo miss": b"\x80\x04h\x05.",
    "out-of-band buffer": b"\x80\x05\x97.",
    "persistent id": b"P1\n.",
    "extension code": b"\x80\x02\x82\x01.",
    "200,000 nested lists": b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".",
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_pickles(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / SESSIONS_FILE
    path.write_bytes(content)
    with pytest.raises(SbrzooError) as error:
        read_sessions(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    assert not str(error.value).endswith(": )")
