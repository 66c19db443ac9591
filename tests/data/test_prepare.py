"""SR-GNN preprocessing of raw logs: hand-computed tiny logs, real samples, malformed input, atomicity.

The tiny logs are small enough to follow every step of docs/MODELS.md §1.2 by hand (comments give the
reasoning); the real samples from ``../shared/datasets/raw-samples`` are checked for the protocol's
invariants and against a literal port of SR-GNN's ``datasets/preprocess.py`` (``_srgnn`` below).
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import operator
import os
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sbrzoo.data.prepare as prepare_module
from sbrzoo.data.download import load_registry, sha256_of
from sbrzoo.data.pickles import load_pickle
from sbrzoo.data.prepare import PICKLE_PROTOCOL, STATS_FILE, fraction_examples, prepare, preprocess, write_folder
from sbrzoo.data.raw import read_raw, read_yoochoose
from sbrzoo.data.sources import Sessions, read_folder
from sbrzoo.errors import ConfigError, DataError

DIGINETICA_SAMPLE = "raw-samples/diginetica-sample_train-item-views.csv"
YOOCHOOSE_SAMPLES = ("raw-samples/yoochoose-clicks-100k_train_full.tsv", "raw-samples/yoochoose-clicks-100k_test.tsv")

# --- hand-made Diginetica log ---------------------------------------------------------------------
# Items 10 (A), 20 (B), 30 (C), 50 (E); 91, 92, 93 are clicked once (rare).
# Step 2 sorts each session by timeframe: session 1 -> 20, 30, 10; session 9 -> 93, 30.
# Step 3 drops session 3 (one click), so its click on 30 is not counted.
# Step 4 counts: 10 x6, 20 x5, 30 x5 (sessions 1, 4, 6, 7, 9), 50 x5; 91, 92, 93 x1.
# Step 5 drops the rare clicks; session 9 keeps only 30 and goes, yet 30 stays (single pass: it
#   keeps 4 clicks).
# Step 6: maxdate 05-16, split 05-09: train = sessions 1, 4 (05-01), 2 (05-02); session 5 (05-09)
#   is in neither; test = 7 (05-12), 8 (05-13), 6 (05-16).
# Step 7: sessions 1 and 4 tie on 05-01; 1 came first in the file.
# Step 8: 20 -> 1, 30 -> 2, 10 -> 3 (first seen in [20, 30, 10], [30, 10, 20], [10, 20]).
# Step 9: 50 is unseen in train: session 7 -> [30, 10] = [2, 3]; session 8 empties and goes;
#   session 6 -> [20, 10, 30] = [1, 3, 2].
DIGINETICA_ROWS = """\
1;NA;10;300;2016-05-01
1;NA;20;100;2016-05-01
1;NA;30;200;2016-05-01
2;NA;10;5;2016-05-02
2;NA;91;6;2016-05-02
2;NA;20;7;2016-05-02
3;NA;30;1;2016-05-03
4;NA;30;1;2016-05-01
4;NA;10;2;2016-05-01
4;NA;20;3;2016-05-01
5;NA;10;1;2016-05-09
5;NA;20;2;2016-05-09
6;NA;20;1;2016-05-16
6;NA;92;2;2016-05-16
6;NA;10;3;2016-05-16
6;NA;30;4;2016-05-16
7;NA;50;1;2016-05-12
7;NA;30;2;2016-05-12
7;NA;10;3;2016-05-12
7;NA;50;4;2016-05-12
8;NA;50;1;2016-05-13
8;NA;50;2;2016-05-13
8;NA;50;3;2016-05-13
9;NA;30;2;2016-05-04
9;NA;93;1;2016-05-04
"""
DIGINETICA_HEADERS = ("session_id;user_id;item_id;timeframe;eventdate", "sessionId;userId;itemId;timeframe;eventdate")
DIGINETICA_TRAIN = [[1, 2, 3], [2, 3, 1], [3, 1]]
DIGINETICA_TEST = [[2, 3], [1, 3, 2]]

# --- hand-made Yoochoose log ----------------------------------------------------------------------
# Items 1 (A), 2 (B), 3 (C), 5 (E), 9 (rare). File order is kept (no sort), e.g. session 11 is
# A, B, C although C's timestamp is earlier than B's; session 11 comes back later in the file, so it
# is A, B, C, A and dated by its very last row (04-02 12:00), not by its first run.
# Step 3 drops session 14. Counts: A 5, B 5, C 5, E 5, 9 once.
# Dates: 12 -> 04-02 09:02, 13 -> 11:02, 11 -> 12:00, 16 -> 20:03, 17 -> 04-03 10:04, 15 -> 20:03.
# Step 6: split = 04-03 20:03 - 1 day = 04-02 20:03: train 12, 13, 11; session 16 is in neither;
#   test 17, 15.
# Step 8: B -> 1, A -> 2, C -> 3: train [1, 2, 3], [3, 1], [2, 1, 3, 2].
# Step 9: E is unseen: session 17 keeps only C and goes; session 15 -> [2, 1, 3].
# Step 10: 6 train examples: ([1,2],3) ([1],2) | ([3],1) | ([2,1,3],2) ([2,1],3) ([2],1).
# Step 12: 1/2 keeps the last 3 (all of session 11); 1/4 keeps 1 (a cut inside session 11).
YOOCHOOSE_ROWS = """\
11,2014-04-01T10:00:00.000Z,1,0
11,2014-04-01T10:05:00.000Z,2,0
11,2014-04-01T10:03:00.000Z,3,0
12,2014-04-02T09:00:00.000Z,2,0
12,2014-04-02T09:01:00.000Z,1,0
12,2014-04-02T09:02:00.000Z,3,0
11,2014-04-02T12:00:00.123Z,1,0
13,2014-04-02T11:00:00.000Z,3,S
13,2014-04-02T11:01:00.000Z,9,S
13,2014-04-02T11:02:00.000Z,2,S
14,2014-04-03T08:00:00.000Z,1,0
15,2014-04-03T20:00:00.000Z,1,0
15,2014-04-03T20:01:00.000Z,5,0
15,2014-04-03T20:02:00.000Z,2,0
15,2014-04-03T20:03:00.000Z,3,0
16,2014-04-02T20:02:00.000Z,1,0
16,2014-04-02T20:03:00.999Z,2,0
17,2014-04-03T10:00:00.000Z,5,0
17,2014-04-03T10:01:00.000Z,5,0
17,2014-04-03T10:02:00.000Z,5,0
17,2014-04-03T10:03:00.000Z,5,0
17,2014-04-03T10:04:00.000Z,3,0
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(folder: Path) -> tuple[list, tuple, tuple, dict]:
    """(all_train_seq, train, test, stats) of a prepared folder, loaded with the safe unpickler."""
    import json

    sessions = load_pickle(folder / "all_train_seq.txt")
    train, test = load_pickle(folder / "train.txt"), load_pickle(folder / "test.txt")
    return sessions, train, test, json.loads((folder / STATS_FILE).read_text())


@pytest.mark.parametrize("header", DIGINETICA_HEADERS, ids=["snake_case", "camelCase"])
def test_diginetica_by_hand(tmp_path: Path, header: str) -> None:
    raw = _write(tmp_path, "train-item-views.csv", f"{header}\n{DIGINETICA_ROWS}")
    result = prepare("diginetica", raw, tmp_path / "out")
    assert [o.folder for o in result.outputs] == [(tmp_path / "out").resolve()]
    sessions, train, test, stats = _load(tmp_path / "out")
    assert sessions == DIGINETICA_TRAIN
    assert train == ([[1, 2], [1], [2, 3], [2], [3]], [3, 2, 1, 3, 1])
    assert test == ([[2], [1, 3], [1]], [3, 2, 3])
    assert stats["split_date"] == "2016-05-09T00:00:00"
    expected = {"train_sessions": 3, "train_examples": 5, "test_sessions": 2, "test_examples": 3,
                "items": 3, "clicks": 13, "train_clicks": 8, "test_clicks": 5}
    assert {key: stats[key] for key in expected} == expected
    assert stats["mean_length"] == pytest.approx(8 / 3, abs=1e-4)
    assert stats["funnel"]["raw"] == {"clicks": 25, "sessions": 9, "items": 7}
    assert stats["funnel"]["without_short_sessions"]["sessions"] == 8
    assert stats["funnel"]["without_rare_items"] == {"clicks": 20, "sessions": 7, "items": 4}  # 3+2+3+2+3+4+3


@pytest.mark.parametrize(("counted_on", "kept"), [("all", {"10", "20", "30", "50"}), ("train", {"10", "20", "30"})])
def test_items_counted_on_the_training_period_alone_let_the_test_days_decide_nothing(
        tmp_path: Path, counted_on: str, kept: set[str]) -> None:
    """Item 50 is clicked once in training (a row added to session 4) and five times in the test days:
    counted over the whole log (SR-GNN) it stays, test clicks included; counted on the training period
    alone (threshold 3 here) it is rare, so it leaves training and, unseen there, the test sessions."""
    rows = DIGINETICA_ROWS + "4;NA;50;4;2016-05-01\n"
    raw = read_raw(_write(tmp_path, "v.csv", f"{DIGINETICA_HEADERS[0]}\n{rows}"), "diginetica")
    protocol = dataclasses.replace(prepare_module.PROTOCOLS["diginetica"], min_item_count=3,
                                   items_counted_on=counted_on)
    data = preprocess(raw, protocol)
    assert set(data.item_ids.tolist()) == kept
    fifty = {"all": 4, "train": 0}[counted_on]  # 50 is the 4th new id (first seen in session 4)
    assert (fifty in data.test.items) == (counted_on == "all")
    assert data.funnel["on_split_date"] == {"clicks": 2, "sessions": 1, "items": 2}  # session 5, in neither set
    assert data.funnel["test_before_item_mapping"]["sessions"] == 3  # sessions 6, 7, 8
    assert ("without_rare_items" in data.funnel) == (counted_on == "all")
    assert ("train_without_rare_items" in data.funnel) == (counted_on == "train")
    with pytest.raises(ConfigError, match="items are counted on one of all, train, got 'test'"):
        prepare("diginetica", raw.path, tmp_path / "out", items_counted_on="test")


def test_diginetica_steps_by_hand(tmp_path: Path) -> None:
    raw = read_raw(_write(tmp_path, "v.csv", f"{DIGINETICA_HEADERS[1]}\n{DIGINETICA_ROWS}"), "diginetica")
    data = preprocess(raw)
    assert data.item_ids.tolist() == ["20", "30", "10"]  # raw id of new ids 1, 2, 3: strings kept
    day = 86_400
    may = calendar.timegm((2016, 5, 1, 0, 0, 0))
    assert data.train_dates.tolist() == [may, may, may + day]
    assert data.test_dates.tolist() == [may + 11 * day, may + 15 * day]
    assert data.split_date == may + 8 * day
    # Item 30 (id 2) was counted 5 times, then lost session 9's click: 4 remain (single pass).
    clicks = np.concatenate([data.train.items, data.test.items])
    assert np.count_nonzero(clicks == 2) == 4


def test_yoochoose_by_hand(tmp_path: Path) -> None:
    raw = _write(tmp_path, "yoochoose-clicks.dat", YOOCHOOSE_ROWS)
    result = prepare("yoochoose", raw, tmp_path / "out", fractions=[2, 4])
    assert [o.name for o in result.outputs] == ["yoochoose1_2", "yoochoose1_4"]
    half, train_half, test_half, stats_half = _load(tmp_path / "out" / "yoochoose1_2")
    quarter, train_quarter, test_quarter, stats_quarter = _load(tmp_path / "out" / "yoochoose1_4")
    assert half == [[2, 1, 3, 2]] and train_half == ([[2, 1, 3], [2, 1], [2]], [2, 3, 1])
    assert quarter == [[2, 1, 3, 2]] and train_quarter == ([[2]], [1])  # the cut falls inside the session
    assert test_half == test_quarter == ([[2, 1], [2]], [3, 1])
    assert stats_half["split_date"] == "2014-04-02T20:03:00"
    assert stats_quarter["items"] == 3 and stats_quarter["train_examples"] == 1
    assert stats_quarter["train_sessions"] == 1 and stats_quarter["test_examples"] == 2
    data = preprocess(read_raw(raw, "yoochoose"))
    assert [data.train.session(i) for i in range(3)] == [[1, 2, 3], [3, 1], [2, 1, 3, 2]]
    assert data.item_ids.tolist() == [2, 1, 3]


def test_yoochoose_fraction_without_examples_fails_and_writes_nothing(tmp_path: Path) -> None:
    raw = _write(tmp_path, "yoochoose-clicks.dat", YOOCHOOSE_ROWS)
    with pytest.raises(DataError, match="1/64 fraction of 6 train examples is empty"):
        prepare("yoochoose", raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- real samples -----------------------------------------------------------------------------------


def _srgnn(path: Path, dataset: str, fractions: tuple[int, ...] = ()) -> dict[str, tuple]:
    """Literal port of SR-GNN's datasets/preprocess.py (dicts, csv reader), UTC instead of local time.

    Returns:
        folder name -> (all_train_seq, (train prefixes, targets), (test prefixes, targets)).
    """
    yoochoose = dataset == "yoochoose"

    def parse(stamp: str) -> int:
        return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S") if yoochoose
                               else time.strptime(stamp, "%Y-%m-%d"))

    with open(path, newline="") as handle:
        names = ["session_id", "timestamp", "item_id", "category"] if yoochoose else None
        reader = csv.DictReader(handle, delimiter="," if yoochoose else ";", fieldnames=names)
        clicks: dict[str, list] = {}
        dates: dict[str, int] = {}
        current, stamp = None, None
        for row in reader:
            session = row["session_id"]
            if stamp and current != session:
                dates[current] = parse(stamp)
            current = session
            item = row["item_id"] if yoochoose else (row["item_id"], int(row["timeframe"]))
            stamp = row["timestamp"] if yoochoose else row["eventdate"]
            clicks.setdefault(session, []).append(item)
        dates[current] = parse(stamp)
    if not yoochoose:
        clicks = {s: [c[0] for c in sorted(seq, key=operator.itemgetter(1))] for s, seq in clicks.items()}
    for session in [s for s, seq in clicks.items() if len(seq) == 1]:
        del clicks[session], dates[session]
    counts: dict[str, int] = {}
    for seq in clicks.values():
        for item in seq:
            counts[item] = counts.get(item, 0) + 1
    for session in list(clicks):
        kept = [i for i in clicks[session] if counts[i] >= 5]
        if len(kept) < 2:
            del clicks[session], dates[session]
        else:
            clicks[session] = kept
    split = max(dates.values()) - 86400 * (1 if yoochoose else 7)
    train = sorted([x for x in dates.items() if x[1] < split], key=operator.itemgetter(1))
    test = sorted([x for x in dates.items() if x[1] > split], key=operator.itemgetter(1))
    ids: dict[str, int] = {}
    train_seqs = [[ids.setdefault(i, len(ids) + 1) for i in clicks[s]] for s, _ in train]
    test_seqs = [seq for seq in ([ids[i] for i in clicks[s] if i in ids] for s, _ in test) if len(seq) >= 2]

    def augment(seqs: list) -> tuple[list, list, list]:
        cuts = [(k, seq, i) for k, seq in enumerate(seqs) for i in range(1, len(seq))]
        return [seq[:-i] for _, seq, i in cuts], [seq[-i] for _, seq, i in cuts], [k for k, _, _ in cuts]

    prefixes, targets, owner = augment(train_seqs)
    test_examples = augment(test_seqs)[:2]
    if not yoochoose:
        return {"diginetica": (train_seqs, (prefixes, targets), test_examples)}
    out = {}
    for k in fractions:
        n = len(prefixes) // k
        out[f"yoochoose1_{k}"] = (train_seqs[owner[-n]:], (prefixes[-n:], targets[-n:]), test_examples)
    return out


def _check_invariants(folder: Path, raw_counts: pd.Series, *, full_vocabulary: bool) -> dict:
    """The protocol's invariants on a prepared folder; returns its stats."""
    sessions, (prefixes, targets), (test_prefixes, test_targets), stats = _load(folder)
    lengths = [len(s) for s in sessions]
    assert min(lengths) >= 2  # no session of length 1
    test_sessions = [p + [t] for p, t in zip(test_prefixes, test_targets, strict=True) if len(p) == 1]
    assert test_sessions and min(len(s) for s in test_sessions) >= 2
    train_items = {i for s in sessions for i in s}
    if full_vocabulary:  # ids are contiguous from 1, numbered in order of first appearance
        assert train_items == set(range(1, len(train_items) + 1))
        first_seen = list(dict.fromkeys(i for s in sessions for i in s))
        assert first_seen == sorted(first_seen)
    # every train item had >= 5 clicks, counted once after dropping one-click sessions
    assert raw_counts.min() >= 5
    test_items = {i for p in test_prefixes for i in p} | set(test_targets)
    assert test_items <= set(range(1, stats["items"] + 1))
    assert len(targets) == stats["train_examples"] and len(test_targets) == stats["test_examples"]
    assert all(len(p) >= 1 for p in prefixes + test_prefixes)
    return stats


def _counts_before_filtering(raw_path: Path, fmt: str) -> pd.Series:
    """Clicks per raw item over the sessions of 2+ clicks (the counts step 5 uses)."""
    data = read_raw(raw_path, fmt).clicks
    lengths = data.groupby("session")["item"].transform("size")
    return data[lengths >= 2].groupby("item").size()


def _sample(shared_datasets: Path, name: str) -> Path:
    """A raw sample file, or a skip when the shared folder lacks it."""
    path = shared_datasets / name
    if not path.is_file():
        pytest.skip(f"raw sample {path} not found")
    return path


def test_diginetica_sample_end_to_end(shared_datasets: Path, tmp_path: Path) -> None:
    raw = _sample(shared_datasets, DIGINETICA_SAMPLE)
    prepare("diginetica", raw, tmp_path / "diginetica")
    data = preprocess(read_raw(raw, "diginetica"))
    counts = _counts_before_filtering(raw, "diginetica")
    raw_ids = read_raw(raw, "diginetica").item_ids
    kept_codes = pd.Index(raw_ids).get_indexer(data.item_ids)
    stats = _check_invariants(tmp_path / "diginetica", counts.loc[kept_codes], full_vocabulary=True)
    assert set(np.unique(data.test.items)) <= set(np.unique(data.train.items))  # test items seen in train
    assert data.train_dates.max() < data.split_date < data.test_dates.min()  # test after train
    assert np.all(np.diff(data.train_dates) >= 0) and np.all(np.diff(data.test_dates) >= 0)
    expected = {"train_sessions": 469, "train_examples": 1_205, "test_sessions": 39, "test_examples": 99,
                "items": 309, "clicks": 1_812}
    assert {key: stats[key] for key in expected} == expected
    folder = read_folder(tmp_path / "diginetica")  # what the loaders see
    assert isinstance(folder.train, Sessions) and folder.train.num_examples == stats["train_examples"]
    train = load_pickle(tmp_path / "diginetica" / "train.txt")
    augmented = folder.train.augment()
    assert train == ([augmented.prefix(i) for i in range(len(augmented))], augmented.targets.tolist())
    reference = _srgnn(raw, "diginetica")["diginetica"]
    sessions, train, test, _ = _load(tmp_path / "diginetica")
    assert (sessions, train, test) == (reference[0], tuple(reference[1]), tuple(reference[2]))


@pytest.fixture(scope="module")
def yoochoose_dat(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``yoochoose-clicks.dat`` written from the tab-separated 100k sample (train then test file)."""
    frames = [pd.read_csv(_sample(shared_datasets, name), sep="\t") for name in YOOCHOOSE_SAMPLES]
    clicks = pd.concat(frames, ignore_index=True)
    stamps = pd.to_datetime(clicks["Time"], unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    path = tmp_path_factory.mktemp("raw") / "yoochoose-clicks.dat"
    pd.DataFrame({"session": clicks["SessionId"], "timestamp": stamps, "item": clicks["ItemId"],
                  "category": 0}).to_csv(path, header=False, index=False)
    return path


def test_yoochoose_sample_end_to_end(yoochoose_dat: Path, tmp_path: Path) -> None:
    assert yoochoose_dat.read_text().splitlines()[0] == "3,2014-04-02T11:17:46.940Z,214716935,0"
    result = prepare("yoochoose", yoochoose_dat, tmp_path)
    assert [o.name for o in result.outputs] == ["yoochoose1_64", "yoochoose1_4"]
    whole = read_raw(yoochoose_dat, "yoochoose")
    chunked = read_yoochoose(yoochoose_dat, chunk_rows=997)  # the chunk boundaries change nothing
    pd.testing.assert_frame_equal(chunked.clicks, whole.clicks)
    np.testing.assert_array_equal(chunked.item_ids, whole.item_ids)
    data = preprocess(whole)
    counts = _counts_before_filtering(yoochoose_dat, "yoochoose")
    raw_ids = read_raw(yoochoose_dat, "yoochoose").item_ids
    kept = counts.loc[pd.Index(raw_ids).get_indexer(data.item_ids)]
    total = data.train.num_examples
    reference = _srgnn(yoochoose_dat, "yoochoose", (64, 4))
    for name, fraction in (("yoochoose1_64", 64), ("yoochoose1_4", 4)):
        stats = _check_invariants(tmp_path / name, kept, full_vocabulary=False)
        assert stats["train_examples"] == total // fraction
        assert stats["items"] == data.num_items  # the full-train id space, for both fractions (P4)
        sessions, train, test, _ = _load(tmp_path / name)
        assert (sessions, train, test) == (reference[name][0], tuple(reference[name][1]), tuple(reference[name][2]))
        files = ("all_train_seq.txt", "train.txt", "test.txt")
        for file, obj in zip(files, reference[name], strict=True):  # the bytes of SR-GNN's pickle.dump
            assert (tmp_path / name / file).read_bytes() == pickle.dumps(obj, protocol=3)
    assert data.train_dates.max() < data.split_date < data.test_dates.min()
    assert set(np.unique(data.test.items)) <= set(np.unique(data.train.items))
    assert _load(tmp_path / "yoochoose1_64")[2] == _load(tmp_path / "yoochoose1_4")[2]  # same test set
    assert [result.outputs[0].stats[k] for k in ("train_examples", "test_examples", "items")] == \
        [814, 10_102, 2_808]


# --- malformed input --------------------------------------------------------------------------------

GOOD_DIGINETICA = "session_id;user_id;item_id;timeframe;eventdate\n1;NA;10;5;2016-05-01\n1;NA;11;6;2016-05-01\n"
GOOD_YOOCHOOSE = "1,2014-04-01T10:00:00.000Z,5,0\n1,2014-04-01T10:01:00.000Z,6,0\n"


@pytest.mark.parametrize(("fmt", "text", "expected"), [
    ("diginetica", "", "line 1: empty file"),
    ("diginetica", GOOD_DIGINETICA.replace(";", ","), "line 1: header has no session column"),
    ("diginetica", "session_id;user_id;item_id;eventdate\n1;NA;10;2016-05-01\n", "line 1: header has no timeframe"),
    ("diginetica", GOOD_DIGINETICA + "2;NA;10;7\n", "line 4: expected 5 ';'-separated fields"),
    ("diginetica", GOOD_DIGINETICA + "2;NA;10;7;2016-05-01;x\n", "line 4: expected 5 ';'-separated fields"),
    ("diginetica", GOOD_DIGINETICA + "2;NA;10;soon;2016-05-01\n", "line 4: timeframe 'soon' is not an integer"),
    ("diginetica", GOOD_DIGINETICA + "2;NA;10;7;2016-13-01\n", "line 4: eventdate '2016-13-01' is not a date"),
    ("diginetica", GOOD_DIGINETICA + "2;NA;;7;2016-05-01\n", "line 4: empty item id"),
    ("diginetica", GOOD_DIGINETICA.splitlines()[0] + "\n", "no clicks after the header"),
    ("yoochoose", "", "line 1: empty file"),
    ("yoochoose", GOOD_YOOCHOOSE.replace(",", "\t"), "line 1: expected 4 ','-separated fields"),
    ("yoochoose", GOOD_YOOCHOOSE.replace(",", ";"), "wrong separator?"),
    ("yoochoose", "session_id,timestamp,item_id,category\n" + GOOD_YOOCHOOSE, "no header line; remove it"),
    ("yoochoose", GOOD_YOOCHOOSE + "2,2014-04-01T10:02:00.000Z\n", "line 3: expected 4 ','-separated fields"),
    ("yoochoose", GOOD_YOOCHOOSE + "2,2014-04-01T10:02:00.000Z,5,0,1\n", "line 3: expected 4 ','-separated fields"),
    ("yoochoose", GOOD_YOOCHOOSE + "2,yesterday,5,0\n", "line 3: timestamp 'yesterday' is not ISO 8601"),
    ("yoochoose", GOOD_YOOCHOOSE + "2,2014-04-31T10:00:00.000Z,5,0\n", "line 3: timestamp '2014-04-31"),
    ("yoochoose", GOOD_YOOCHOOSE + "2,2014-04-01 10:00:00,5,0\n", "line 3: timestamp"),
    ("yoochoose", GOOD_YOOCHOOSE + "x2,2014-04-01T10:00:00.000Z,5,0\n", "line 3: session id 'x2'"),
    ("yoochoose", GOOD_YOOCHOOSE + "\n2,2014-04-01T10:00:00.000Z,five,0\n", "line 4: item id 'five'"),
])
def test_malformed_input_names_file_and_line_and_writes_nothing(
    tmp_path: Path, fmt: str, text: str, expected: str
) -> None:
    raw = _write(tmp_path, "clicks.log", text)
    out = tmp_path / "out" / "data"
    with pytest.raises(DataError) as error:
        prepare(fmt, raw, out)
    assert str(raw) in str(error.value) and expected in str(error.value)
    assert not (tmp_path / "out").exists()


def test_missing_raw_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        prepare("diginetica", tmp_path / "nope.csv", tmp_path / "out")


def test_blank_lines_and_crlf_are_accepted(tmp_path: Path) -> None:
    text = "\r\n".join(f"{DIGINETICA_HEADERS[0]}\n{DIGINETICA_ROWS}".splitlines()) + "\r\n\r\n"
    prepare("diginetica", _write(tmp_path, "v.csv", text), tmp_path / "out")
    assert _load(tmp_path / "out")[0] == DIGINETICA_TRAIN


def test_bad_options(tmp_path: Path) -> None:
    raw = _write(tmp_path, "v.csv", f"{DIGINETICA_HEADERS[0]}\n{DIGINETICA_ROWS}")
    with pytest.raises(ConfigError, match="Yoochoose option"):
        prepare("diginetica", raw, tmp_path / "out", fractions=[4])
    with pytest.raises(ConfigError, match="k >= 2"):
        prepare("yoochoose", raw, tmp_path / "out", fractions=[1])
    with pytest.raises(ConfigError, match="unknown raw dataset"):
        prepare("retailrocket", raw, tmp_path / "out")


# --- atomic output ----------------------------------------------------------------------------------


def test_existing_output_needs_overwrite_and_is_replaced_whole(tmp_path: Path) -> None:
    raw = _write(tmp_path, "v.csv", f"{DIGINETICA_HEADERS[0]}\n{DIGINETICA_ROWS}")
    out = tmp_path / "out"
    prepare("diginetica", raw, out)
    with pytest.raises(DataError, match="already exists"):
        prepare("diginetica", raw, out)
    (out / "train.txt").write_bytes(b"stale")
    prepare("diginetica", raw, out, overwrite=True)
    assert _load(out)[1][1] == [3, 2, 1, 3, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "v.csv"]  # no staging left


def test_overwrite_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    raw = _write(tmp_path, "v.csv", f"{DIGINETICA_HEADERS[0]}\n{DIGINETICA_ROWS}")
    with pytest.raises(DataError, match="not a prepared dataset"):
        prepare("diginetica", raw, tmp_path, overwrite=True)
    assert (tmp_path / "v.csv").is_file()


@pytest.mark.parametrize("existing", [False, True])
def test_failure_while_writing_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    raw = _write(tmp_path, "yoochoose-clicks.dat", YOOCHOOSE_ROWS)
    out = tmp_path / "out"
    if existing:
        prepare("yoochoose", raw, out, fractions=[2, 4])
        before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    original, calls = prepare_module._write_examples, []

    def fail_on_second_folder(path: Path, *args: object) -> None:
        calls.append(path)
        if len(calls) == 3:  # train.txt of the second folder
            path.write_bytes(b"half")
            raise OSError("disk full")
        original(path, *args)

    monkeypatch.setattr(prepare_module, "_write_examples", fail_on_second_folder)
    with pytest.raises(DataError, match=r"cannot write the prepared files \(disk full\); nothing was changed"):
        prepare("yoochoose", raw, out, fractions=[2, 4], overwrite=True)
    if existing:
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
        assert sorted(p.name for p in out.iterdir()) == ["yoochoose1_2", "yoochoose1_4"]
    else:
        assert not out.exists()


def test_a_failure_while_replacing_the_folders_puts_the_old_ones_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _write(tmp_path, "yoochoose-clicks.dat", YOOCHOOSE_ROWS)
    out = tmp_path / "out"
    prepare("yoochoose", raw, out, fractions=[2, 4])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    moves, replace = [], os.replace

    def fail_on_the_second_folder(source: Path, destination: Path) -> None:
        moves.append(Path(destination).name)
        if moves[-1] == "yoochoose1_4" and moves.count("yoochoose1_4") == 2:  # its old copy aside, the new one in
            raise OSError("device busy")
        replace(source, destination)

    monkeypatch.setattr(prepare_module.os, "replace", fail_on_the_second_folder)
    with pytest.raises(DataError, match="device busy"):
        prepare("yoochoose", raw, out, fractions=[2, 4], overwrite=True)
    assert moves.count("yoochoose1_2") == 3  # its old copy aside, the new one in, the old one back
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == ["yoochoose1_2", "yoochoose1_4"]  # nothing hidden left


# --- pickle encoding --------------------------------------------------------------------------------


def test_written_pickles_are_the_bytes_pickle_writes(tmp_path: Path) -> None:
    raw = _write(tmp_path, "yoochoose-clicks.dat", YOOCHOOSE_ROWS)
    prepare("yoochoose", raw, tmp_path / "out", fractions=[2])
    folder = tmp_path / "out" / "yoochoose1_2"
    assert _load(folder)[1] == ([[2, 1, 3], [2, 1], [2]], [2, 3, 1])  # loads with the restricted unpickler
    expected = {"all_train_seq.txt": [[2, 1, 3, 2]], "train.txt": ([[2, 1, 3], [2, 1], [2]], [2, 3, 1]),
                "test.txt": ([[2, 1], [2]], [3, 1])}
    for name, obj in expected.items():
        assert (folder / name).read_bytes() == pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
    assert PICKLE_PROTOCOL == 3 and (folder / "train.txt").read_bytes()[:2] == b"\x80\x03"


def test_written_pickles_are_byte_identical_to_the_published_files(shared_datasets: Path, tmp_path: Path) -> None:
    """The published pickles, rebuilt as sessions and written by write_folder, keep their registry sha256."""
    registry = load_registry()
    for name in ("diginetica", "yoochoose1_64"):
        sessions = Sessions.from_lists(load_pickle(shared_datasets / name / "all_train_seq.txt"))
        prefixes, targets = load_pickle(shared_datasets / name / "test.txt")
        # SR-GNN augments a session longest prefix first: a session starts after a prefix of length 1
        firsts = [k for k in range(len(prefixes)) if k == 0 or len(prefixes[k - 1]) == 1]
        test = Sessions.from_lists([prefixes[k] + [targets[k]] for k in firsts])
        (tmp_path / name).mkdir()
        write_folder(tmp_path / name, sessions, *fraction_examples(sessions)[1:], test, {})
        expected = {remote.path: remote.sha256 for remote in registry.datasets[name].files}
        assert {path: sha256_of(tmp_path / path) for path in expected} == expected
