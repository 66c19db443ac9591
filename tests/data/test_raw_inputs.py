"""Raw logs as other programs save them: a UTF-8 byte-order mark, old Mac line ends."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from sbrzoo.data.prepare import prepare
from sbrzoo.data.raw import read_raw
from sbrzoo.errors import DataError

DIGINETICA = ("sessionId;userId;itemId;timeframe;eventdate\n"
              "1;NA;10;1;2016-05-01\n1;NA;20;2;2016-05-01\n2;NA;20;1;2016-05-02\n")
YOOCHOOSE = ("1,2014-04-01T10:00:00.000Z,7,0\n1,2014-04-01T10:01:00.000Z,8,0\n"
             "2,2014-04-02T10:00:00.000Z,8,0\n")


@pytest.mark.parametrize("header", ["sessionId;userId;itemId;timeframe;eventdate",
                                    "session_id;user_id;item_id;timeframe;eventdate"])
def test_diginetica_with_a_byte_order_mark_is_read(tmp_path: Path, header: str) -> None:
    path = tmp_path / "train-item-views.csv"
    path.write_bytes(codecs.BOM_UTF8 + DIGINETICA.replace(DIGINETICA.split("\n")[0], header).encode())
    raw = read_raw(path, "diginetica")
    assert raw.clicks["session"].tolist() == [1, 1, 2]
    assert raw.item_ids.tolist() == ["10", "20"]


def test_yoochoose_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "yoochoose-clicks.dat"
    path.write_bytes(codecs.BOM_UTF8 + YOOCHOOSE.encode())
    raw = read_raw(path, "yoochoose")
    assert raw.clicks["session"].tolist() == [1, 1, 2] and raw.item_ids.tolist() == [7, 8]


@pytest.mark.parametrize(("fmt", "text", "line"), [
    ("diginetica", DIGINETICA + "3;NA;30;x;2016-05-03\n", "line 5: timeframe 'x' is not an integer"),
    ("yoochoose", YOOCHOOSE + "3,yesterday,9,0\n", "line 4: timestamp 'yesterday' is not ISO 8601"),
])
def test_a_bad_line_after_a_byte_order_mark_is_still_named(tmp_path: Path, fmt: str, text: str,
                                                          line: str) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    with pytest.raises(DataError, match=line):
        read_raw(path, fmt)


def test_prepare_reads_a_spreadsheet_export(tmp_path: Path) -> None:
    rows = "".join(f"{s};NA;{item};{t};2016-05-{day:02d}\r\n"
                   for s, day in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 12)) for t, item in enumerate((10, 20, 30)))
    path = tmp_path / "train-item-views.csv"
    path.write_bytes(codecs.BOM_UTF8 + ("sessionId;userId;itemId;timeframe;eventdate\r\n" + rows).encode())
    result = prepare("diginetica", path, tmp_path / "out")
    assert result.outputs[0].stats["train_sessions"] == 4


def test_lone_carriage_returns_end_lines(tmp_path: Path) -> None:
    path = tmp_path / "yoochoose-clicks.dat"
    path.write_bytes(YOOCHOOSE.replace("\n", "\r").encode())
    raw = read_raw(path, "yoochoose")
    assert raw.clicks["session"].tolist() == [1, 1, 2]


@pytest.mark.parametrize(("fmt", "text", "line"), [
    # every row one field too many: pandas alone would read the first field as the row index
    ("diginetica", "sessionId;userId;itemId;timeframe;eventdate\n" + "".join(
        f"7;{row}\n" for row in DIGINETICA.splitlines()[1:]), "line 2: expected 5 ';'-separated fields"),
    ("yoochoose", "".join(f"9,{row}\n" for row in YOOCHOOSE.splitlines()), "line 1: expected 4 ','-separated"),
])
def test_rows_with_an_extra_leading_field_are_refused(tmp_path: Path, fmt: str, text: str, line: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=line):
        read_raw(path, fmt)
