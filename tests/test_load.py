"""Loading: sources, target choice and its reasons, provenance, and every refusal."""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

import advisor.load as load_module
from advisor.errors import DataLoadError, DataShapeError, TargetError
from advisor.load import load_data
from advisor.schema import Notice


def _write(path, text: str | bytes):
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


CSV = "a,b,y\n1,x,0\n2,y,1\n3,z,0\n4,x,1\n"


# --- target choice and its reason --------------------------------------------------------------

def test_target_given_by_name(tmp_path):
    loaded = load_data(_write(tmp_path / "t.csv", CSV), target="a")
    assert loaded.target_columns == ("a",)
    assert loaded.target_reason == "column 'a' given with --target"
    assert list(loaded.features.columns) == ["b", "y"]
    assert loaded.target["a"].tolist() == [1, 2, 3, 4]


def test_target_named_like_a_target_case_insensitive_in_priority_order(tmp_path):
    frame = pd.DataFrame({"y": [1, 2], "Class": [0, 1], "x": [3, 4], "Label": [5, 6]})
    loaded = load_data(frame)
    # priority: target, label, labels, y, class, outcome -> 'Label' beats 'y' and 'Class'
    assert loaded.target_columns == ("Label",)
    assert loaded.target_reason == "column 'Label' is named like a target"
    only_class = load_data(pd.DataFrame({"x": [1, 2], "CLASS": ["a", "b"], "z": [0, 1]}))
    assert only_class.target_reason == "column 'CLASS' is named like a target"


def test_target_defaults_to_last_column_and_says_why(tmp_path):
    loaded = load_data(_write(tmp_path / "t.csv", "a,b,score\n1,2,3\n4,5,6\n"))
    assert loaded.target_columns == ("score",)
    assert loaded.target_reason == (
        "no column named target/label/labels/y/class/outcome: took the last column 'score'")


def test_target_names_that_are_not_text():
    loaded = load_data(pd.DataFrame({0: [1, 2], 1: [3, 4]}), target=1)
    assert loaded.target_columns == ("1",)
    assert list(loaded.features.columns) == ["0"]


def test_several_target_columns(tmp_path):
    loaded = load_data(pd.DataFrame({"f": [1, 2], "a": [0, 1], "b": [1, 0]}), target=["a", "b"])
    assert loaded.target_columns == ("a", "b")
    assert list(loaded.target.columns) == ["a", "b"]
    assert list(loaded.features.columns) == ["f"]
    assert loaded.target_reason == "columns 'a', 'b' given with --target"


def test_unknown_target_lists_columns_and_suggests(tmp_path):
    with pytest.raises(TargetError) as caught:
        load_data(_write(tmp_path / "t.csv", "species,island,mass\nA,B,1\n"), target="Specis")
    message = str(caught.value)
    assert "unknown target column 'Specis'" in message
    assert "did you mean 'species'?" in message
    assert "'island'" in message and "'mass'" in message
    assert "\n" not in message


def test_duplicate_target_names_are_refused():
    frame = pd.DataFrame({"f": [1, 2], "a": [0, 1]})
    with pytest.raises(TargetError, match="duplicate column names among targets: 'a'"):
        load_data(frame, target=["a", "a"])
    twice = pd.DataFrame([[1, 2, 3]], columns=["f", "a", "a"])
    with pytest.raises(TargetError, match="duplicate column names among targets"):
        load_data(twice, target="a")


def test_only_a_target_column_has_no_features(tmp_path):
    with pytest.raises(DataShapeError, match="no feature columns"):
        load_data(_write(tmp_path / "t.csv", "y\n1\n2\n"))
    with pytest.raises(DataShapeError, match="no feature columns"):
        load_data(pd.DataFrame({"a": [1], "b": [2]}), target=["a", "b"])


def test_empty_target_list_is_refused():
    with pytest.raises(TargetError, match="no target column given"):
        load_data(pd.DataFrame({"a": [1], "b": [2]}), target=[])


# --- delimited labels ---------------------------------------------------------------------------

def test_label_sep_expands_sorted_zero_one_columns(tmp_path):
    text = "x,tags\n1,dog|cat\n2,\n3, cat \n4,bird||dog\n"
    loaded = load_data(_write(tmp_path / "t.csv", text), label_sep="|")
    assert loaded.target_columns == ("tags",)
    assert loaded.label_sep == "|"
    assert list(loaded.target.columns) == ["bird", "cat", "dog"]
    assert loaded.target.to_numpy().tolist() == [[0, 1, 1], [0, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert "split on '|' into 3 labels: bird, cat, dog" in loaded.target_reason


def test_label_sep_with_several_targets_or_no_labels_is_refused():
    frame = pd.DataFrame({"x": [1, 2], "a": ["p", "q"], "b": ["r", "s"]})
    with pytest.raises(TargetError, match="one delimited label column"):
        load_data(frame, target=["a", "b"], label_sep="|")
    empty = pd.DataFrame({"x": [1, 2], "tags": ["", None]})
    with pytest.raises(TargetError, match="no labels found"):
        load_data(empty, label_sep="|")


def test_pipes_in_a_text_target_suggest_label_sep():
    piped = pd.DataFrame({"x": range(5), "tags": ["a|b", "a", "b", "a|c", "c"]})
    assert "--label-sep '|'" in load_data(piped).target_reason
    rare = pd.DataFrame({"x": range(10), "tags": ["a|b"] + ["a"] * 9})
    assert "--label-sep" not in load_data(rare).target_reason


# --- file formats -------------------------------------------------------------------------------

@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(tmp_path, sep):
    text = CSV.replace(",", sep)
    loaded = load_data(_write(tmp_path / "t.csv", text))
    assert list(loaded.features.columns) == ["a", "b"]
    assert loaded.target["y"].tolist() == [0, 1, 0, 1]


def test_space_aligned_columns_are_read(tmp_path):
    loaded = load_data(_write(tmp_path / "t.txt", "a   b  y\n1   2  3\n10  20 30\n"))
    assert list(loaded.features.columns) == ["a", "b"]
    assert loaded.target["y"].tolist() == [3, 30]


def test_short_rows_are_padded_with_missing_values(tmp_path):
    loaded = load_data(_write(tmp_path / "t.csv", "a,b,y\n1,2,3\n4,5\n"))
    assert loaded.target["y"].isna().tolist() == [False, True]


@pytest.mark.parametrize("sep", [";", "\t"])
def test_decimal_commas_are_read_as_numbers(tmp_path, sep):
    text = "a;b;y\n1,5;-0,25;2\n3,5;7;4,75\n".replace(";", sep)
    loaded = load_data(_write(tmp_path / "t.csv", text))
    assert loaded.features["a"].tolist() == [1.5, 3.5]
    assert loaded.features["b"].tolist() == [-0.25, 7.0]
    assert loaded.target["y"].tolist() == [2.0, 4.75]


def test_a_decimal_point_anywhere_keeps_commas_as_text(tmp_path):
    loaded = load_data(_write(tmp_path / "t.csv", "a;b;y\n1,5;2.5;2\n3,5;1.0;4\n"))
    assert loaded.features["a"].tolist() == ["1,5", "3,5"]
    assert loaded.features["b"].tolist() == [2.5, 1.0]


def test_bom_and_spaces_in_header_are_ignored(tmp_path):
    loaded = load_data(_write(tmp_path / "t.csv", "\ufeffa, b ,y\n1,2,3\n"), target="b")
    assert loaded.target_columns == ("b",)
    assert list(loaded.features.columns) == ["a", "y"]


def test_gzip_csv_is_read(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode()))
    loaded = load_data(path)
    assert loaded.target["y"].tolist() == [0, 1, 0, 1]
    assert loaded.provenance.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_parquet_by_suffix_and_by_magic_bytes(tmp_path):
    frame = pd.DataFrame({"a": [1.5, 2.5, 3.5], "b": ["x", "y", "z"], "y": [0, 1, 0]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    loaded = load_data(path)
    assert loaded.provenance.format == "parquet"
    assert loaded.target["y"].tolist() == [0, 1, 0]
    disguised = tmp_path / "t.bin"
    disguised.write_bytes(path.read_bytes())
    assert load_data(disguised).provenance.format == "parquet"


def test_not_really_parquet_is_refused(tmp_path):
    with pytest.raises(DataLoadError, match="not a Parquet file"):
        load_data(_write(tmp_path / "t.parquet", CSV))
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"PAR1" + b"\x00garbage" * 10)
    with pytest.raises(DataLoadError, match="not a readable Parquet file"):
        load_data(broken)


def _fake_stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_stdin_csv(monkeypatch):
    _fake_stdin(monkeypatch, CSV.encode())
    loaded = load_data("-")
    assert loaded.provenance.source == "<stdin>"
    assert loaded.provenance.format == "csv"
    assert loaded.provenance.bytes == len(CSV.encode())
    assert loaded.provenance.sha256 == hashlib.sha256(CSV.encode()).hexdigest()
    assert loaded.target["y"].tolist() == [0, 1, 0, 1]


def test_stdin_parquet_and_empty_stdin(monkeypatch):
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1, 2], "y": [3, 4]}).to_parquet(buffer)
    _fake_stdin(monkeypatch, buffer.getvalue())
    assert load_data("-").provenance.format == "parquet"
    _fake_stdin(monkeypatch, b"")
    with pytest.raises(DataLoadError, match="standard input is empty"):
        load_data("-")


def test_dates_stay_text_and_missing_cells_are_missing(tmp_path):
    text = "when,n,flag,name,y\n2020-01-01,1,True,ann,1.5\n,2,False,,2.5\n2020-01-03,,True,bo,inf\n"
    loaded = load_data(_write(tmp_path / "t.csv", text))
    assert loaded.features["when"].tolist()[0] == "2020-01-01"  # dates stay text
    assert loaded.features["n"].isna().tolist() == [False, False, True]
    assert loaded.features["name"].isna().tolist() == [False, True, False]


def test_a_column_whose_type_changes_late_in_a_big_file_is_kept(tmp_path):
    rows = [f"{i},{i % 2}" for i in range(300_000)] + ["oops,1"]
    loaded = load_data(_write(tmp_path / "t.csv", "a,y\n" + "\n".join(rows) + "\n"))
    assert len(loaded.features) == 300_001
    assert loaded.features["a"].iloc[-1] == "oops"


# --- text encodings ------------------------------------------------------------------------------

CP1252_NOTICE = Notice("data.encoding", "the file is not UTF-8: read as cp1252 (Windows-1252, as "
                       "Excel exports it); save it as UTF-8 to silence this")
LATIN1_NOTICE = Notice("data.encoding", "the file is not UTF-8: read as latin-1 (ISO-8859-1: it "
                       "holds bytes that Windows-1252 leaves undefined); save it as UTF-8 to "
                       "silence this")
EXCEL_CSV = "Café;Größe;y\nnaïve;1,5;0\n€;2,5;1\nrésumé;3,5;0\n"  # ';' and decimal commas, as Excel writes


def test_cp1252_excel_export_is_read_and_says_so(tmp_path):
    data = EXCEL_CSV.encode("cp1252")
    assert b"\x80" in data  # the euro sign, which Latin-1 would not give
    loaded = load_data(_write(tmp_path / "excel.csv", data))
    assert list(loaded.features.columns) == ["Café", "Größe"]
    assert loaded.features["Café"].tolist() == ["naïve", "€", "résumé"]
    assert loaded.features["Größe"].tolist() == [1.5, 2.5, 3.5]
    assert loaded.target["y"].tolist() == [0, 1, 0]
    assert loaded.provenance.encoding == "cp1252"
    assert loaded.provenance.to_dict()["encoding"] == "cp1252"
    assert loaded.provenance.sha256 == hashlib.sha256(data).hexdigest()  # of the bytes as given
    assert loaded.notices == (CP1252_NOTICE,)


def test_bytes_undefined_in_cp1252_are_read_as_latin1(tmp_path):
    data = b"name,code,y\n\x81x,caf\xe9,0\nok,\x9d,1\n"
    with pytest.raises(UnicodeDecodeError):
        data.decode("cp1252")
    loaded = load_data(_write(tmp_path / "latin.csv", data))
    assert loaded.features["name"].tolist() == ["\x81x", "ok"]
    assert loaded.features["code"].tolist() == ["café", "\x9d"]
    assert loaded.target["y"].tolist() == [0, 1]
    assert loaded.provenance.encoding == "latin-1"
    assert loaded.provenance.to_dict()["encoding"] == "latin-1"
    assert loaded.notices == (LATIN1_NOTICE,)


def test_utf8_with_or_without_bom_records_nothing_new(tmp_path):
    for text in (EXCEL_CSV, "\ufeff" + EXCEL_CSV):
        loaded = load_data(_write(tmp_path / "utf8.csv", text))
        assert list(loaded.features.columns) == ["Café", "Größe"]
        assert loaded.features["Café"].tolist() == ["naïve", "€", "résumé"]
        assert loaded.provenance.encoding is None
        assert list(loaded.provenance.to_dict()) == ["source", "format", "bytes", "sha256", "rows", "columns"]
        assert loaded.notices == ()


@pytest.mark.parametrize("late, value, encoding, notice", [
    (b"caf\xe9", "café", "cp1252", CP1252_NOTICE),    # cp1252 (and not UTF-8)
    (b"\x81", "\x81", "latin-1", LATIN1_NOTICE),       # neither UTF-8 nor cp1252
])
def test_a_non_utf8_byte_far_past_the_sniffed_head_is_read(tmp_path, late, value, encoding, notice):
    rows = "".join(f"r{i},{i % 2}\n" for i in range(50_000)).encode("ascii")
    data = b"name,y\n" + rows + late + b",1\n"
    assert data.index(late) > 4 * load_module.SNIFF_BYTES
    loaded = load_data(_write(tmp_path / "big.csv", data))
    assert len(loaded.features) == 50_001
    assert loaded.features["name"].iloc[0] == "r0"
    assert loaded.features["name"].iloc[-1] == value
    assert loaded.target["y"].iloc[-1] == 1
    assert loaded.provenance.encoding == encoding
    assert loaded.notices == (notice,)


def test_gzip_cp1252_csv_is_read(tmp_path):
    path = tmp_path / "excel.csv.gz"
    path.write_bytes(gzip.compress(EXCEL_CSV.encode("cp1252")))
    loaded = load_data(path)
    assert list(loaded.features.columns) == ["Café", "Größe"]
    assert loaded.features["Café"].tolist() == ["naïve", "€", "résumé"]
    assert loaded.features["Größe"].tolist() == [1.5, 2.5, 3.5]
    assert loaded.provenance.encoding == "cp1252"
    assert loaded.provenance.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.notices == (CP1252_NOTICE,)


def test_cp1252_on_stdin_is_read(monkeypatch):
    _fake_stdin(monkeypatch, EXCEL_CSV.encode("cp1252"))
    loaded = load_data("-")
    assert loaded.features["Café"].tolist() == ["naïve", "€", "résumé"]
    assert loaded.provenance.source == "<stdin>"
    assert loaded.provenance.encoding == "cp1252"
    assert loaded.notices == (CP1252_NOTICE,)


def test_parquet_and_frames_record_no_encoding(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"Café": ["€", "naïve"], "y": [0, 1]}).to_parquet(path)
    for source in (path, pd.DataFrame({"a": [1, 2], "y": [0, 1]})):
        loaded = load_data(source)
        assert loaded.provenance.encoding is None
        assert "encoding" not in loaded.provenance.to_dict()
        assert loaded.notices == ()
    assert load_data(path).features["Café"].tolist() == ["€", "naïve"]


# --- provenance ---------------------------------------------------------------------------------

def test_file_provenance(tmp_path):
    path = _write(tmp_path / "t.csv", CSV)
    provenance = load_data(path).provenance
    assert provenance.source == str(path)
    assert provenance.format == "csv"
    assert provenance.bytes == len(CSV)
    assert provenance.sha256 == hashlib.sha256(CSV.encode()).hexdigest()
    assert (provenance.rows, provenance.columns) == (4, 3)
    assert set(provenance.to_dict()) == {"source", "format", "bytes", "sha256", "rows", "columns"}


def test_dataframe_is_not_modified_and_hash_is_stable():
    frame = pd.DataFrame({0: [1, 2, 3], "y": ["a", "b", "a"]}, index=[10, 20, 30])
    before = frame.copy()
    first, second = load_data(frame), load_data(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(first.features.columns) == ["0"]  # names become text
    assert list(first.features.index) == [0, 1, 2]
    assert first.provenance.source == "<dataframe>"
    assert first.provenance.bytes is None
    assert first.provenance.sha256 == second.provenance.sha256
    changed = frame.copy()
    changed.loc[10, 0] = 9
    assert load_data(changed).provenance.sha256 != first.provenance.sha256
    renamed = frame.rename(columns={0: "z"})
    assert load_data(renamed).provenance.sha256 != first.provenance.sha256


def test_arrays_with_y():
    features = np.arange(12.0).reshape(6, 2)
    loaded = load_data(features, y=np.array([0, 1, 0, 1, 0, 1]))
    assert list(loaded.features.columns) == ["x0", "x1"]
    assert loaded.target_columns == ("y",)
    assert loaded.target_reason == "target given as y="
    assert loaded.provenance.format == "arrays"
    several = load_data(features, y=np.ones((6, 3)))
    assert several.target_columns == ("y0", "y1", "y2")
    named = load_data(pd.DataFrame(features, columns=["p", "q"]), y=pd.Series(range(6), name="price"))
    assert named.target_columns == ("price",)
    assert list(named.features.columns) == ["p", "q"]
    listed = load_data(features, y=[np.zeros(6), np.ones(6)])
    assert listed.target_columns == ("y0", "y1")


def test_arrays_errors():
    features = np.zeros((4, 2))
    with pytest.raises(DataShapeError, match="X has 4 rows but y has 3"):
        load_data(features, y=[1, 2, 3])
    with pytest.raises(TargetError, match="given twice"):
        load_data(features, target="y", y=[1, 2, 3, 4])
    with pytest.raises(DataShapeError, match="X must be 2-D"):
        load_data(np.zeros((2, 2, 2)), y=[1, 2])
    with pytest.raises(TargetError, match="also a feature column"):
        load_data(pd.DataFrame({"y": [1, 2]}), y=[0, 1])


# --- refusals -----------------------------------------------------------------------------------

def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataLoadError, match="file not found: .*nope.csv"):
        load_data(tmp_path / "nope.csv")
    with pytest.raises(DataLoadError, match="is a directory"):
        load_data(tmp_path)


@pytest.mark.parametrize("content, problem", [
    (b"", "is empty"),
    (b"\n \n", "is empty"),
    (b"a,b,y\n", "has a header but no data rows"),
])
def test_empty_files(tmp_path, content, problem):
    with pytest.raises(DataLoadError, match=problem):
        load_data(_write(tmp_path / "t.csv", content))


def test_garbled_files(tmp_path):
    with pytest.raises(DataLoadError, match="not a readable CSV"):
        load_data(_write(tmp_path / "ragged.csv", "a,b\n1,2,3,4\n5\n"))
    with pytest.raises(DataLoadError, match="NUL bytes"):
        load_data(_write(tmp_path / "utf16.csv", "a,b\n1,2\n".encode("utf-16")))
    archive = tmp_path / "book.xlsx"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("sheet.xml", "<x/>")
    with pytest.raises(DataLoadError, match="ZIP archive"):
        load_data(archive)


def test_dataframe_without_columns_or_rows():
    with pytest.raises(DataShapeError, match="no columns"):
        load_data(pd.DataFrame())
    with pytest.raises(DataShapeError, match="no rows"):
        load_data(pd.DataFrame({"a": [], "y": []}))


def test_unsupported_source_type():
    with pytest.raises(DataLoadError, match="cannot read data from a int"):
        load_data(42)


def test_error_messages_are_one_line(tmp_path):
    for source in (tmp_path / "nope.csv", tmp_path):
        with pytest.raises(DataLoadError) as caught:
            load_data(source)
        assert "\n" not in str(caught.value)


def test_the_encoding_warning_reaches_the_recommendation(tmp_path):
    import advisor

    path = tmp_path / "export.csv"
    rows = "".join(f"{word};{index},5;{index % 2}\n" for index, word in
                   enumerate(["naïve", "€", "résumé", "Größe"] * 5))
    path.write_bytes(("Café;Größe;y\n" + rows).encode("cp1252"))
    rec = advisor.suggest(str(path), validate=False)
    assert rec.warnings[0] == CP1252_NOTICE
    assert rec.to_dict()["provenance"]["encoding"] == "cp1252"


def test_a_digest_started_by_the_caller_is_used(tmp_path):
    """advisor.suggest starts hashing a file before pandas is imported and hands it over."""
    from contextlib import ExitStack

    from advisor.digest import start_file_sha256

    path = _write(tmp_path / "d.csv", "x,y\n" + "\n".join(f"{i},{i % 2}" for i in range(20)))
    with ExitStack() as stack:
        started = start_file_sha256(path, stack)
        loaded = load_data(path, sha256=started)
    assert loaded.provenance.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_data(path, sha256=lambda: "given").provenance.sha256 == "given"
