"""Both lake implementations honour the same contract; S3 against the loopback server."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from stock_assets.resources.lake import LocalLake, S3Lake, validate_key


def test_put_then_get_round_trips(lake):
    key = lake.put("bronze/raw_quotes/trade_date=2024-07-05/a.jsonl", b"payload\n")
    assert lake.get(key) == b"payload\n"
    lake.put(key, b"replaced\n")
    assert lake.get(key) == b"replaced\n"


def test_put_if_absent_lets_only_the_first_writer_win(lake):
    key = "alerts/sent/trade_date=2024-07-05/AAPL-BUY.json"
    assert lake.put_if_absent(key, b"first") is True
    assert lake.put_if_absent(key, b"second") is False
    assert lake.get(key) == b"first"


def test_s3_keys_live_under_the_prefix(aws_endpoint):
    boto3.client("s3").create_bucket(Bucket="lake-b")
    S3Lake(bucket="lake-b", prefix="stock-assets").put("landing/quotes/x.json", b"{}")
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="lake-b")["Contents"]]
    assert keys == ["stock-assets/landing/quotes/x.json"]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_keys_that_could_escape_the_lake_are_refused(key):
    with pytest.raises(ValueError):
        validate_key(key)


def test_listing_pages_past_a_thousand_objects_with_versions(lake):
    with ThreadPoolExecutor(8) as pool:  # the S3 variant pays an HTTP round trip per put
        list(
            pool.map(
                lambda i: lake.put(f"landing/quotes/batch/{i:05d}.jsonl", b"x" * (i % 7 + 1)),
                range(1005),
            )
        )
    lake.put("bronze/other/ignored.jsonl", b"-")
    listed = lake.list_objects("landing/quotes")
    assert len(listed) == 1005
    assert {o.key for o in listed} == {f"landing/quotes/batch/{i:05d}.jsonl" for i in range(1005)}
    before = {o.key: o.version for o in listed}
    lake.put("landing/quotes/batch/00003.jsonl", b"new content")
    after = {o.key: o.version for o in lake.list_objects("landing/quotes")}
    assert after["landing/quotes/batch/00003.jsonl"] != before["landing/quotes/batch/00003.jsonl"]
    assert after["landing/quotes/batch/00004.jsonl"] == before["landing/quotes/batch/00004.jsonl"]


def test_move_relocates_an_object(lake):
    lake.put("landing/quotes/bad.json", b"{not json")
    lake.move("landing/quotes/bad.json", "quarantine/landing/quotes/bad.json")
    assert lake.list_objects("landing/quotes") == []
    assert lake.get("quarantine/landing/quotes/bad.json") == b"{not json"


def test_a_missing_object_reads_as_file_not_found_in_both_lakes(lake):
    with pytest.raises(FileNotFoundError):
        lake.get("landing/quotes/never-written.jsonl")


def test_listing_after_a_key_skips_what_sorts_before_it(lake):
    keys = [
        "landing/quotes/2024/07/04/q-1.jsonl",
        "landing/quotes/2024/07/05/q-1.jsonl",
        "landing/quotes/2024/07/05/q-2.jsonl",
        "landing/quotes/2024/07/06/q-1.jsonl",
        "landing/quotes/manual/late.csv",
    ]
    for key in keys:
        lake.put(key, b"x")
    after = lake.list_objects("landing/quotes", start_after="landing/quotes/2024/07/05/q-1.jsonl")
    assert sorted(o.key for o in after) == keys[2:]
    assert len(lake.list_objects("landing/quotes", start_after=None)) == len(keys)


def test_a_local_listing_after_a_key_never_opens_older_folders(tmp_path, monkeypatch):
    lake = LocalLake(root=str(tmp_path))
    for day in ("03", "04", "05"):
        lake.put(f"landing/quotes/2024/07/{day}/q.jsonl", b"x")
    opened = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: opened.append(Path(path).name) or real(path))
    (only,) = lake.list_objects("landing/quotes", start_after="landing/quotes/2024/07/04/q.jsonl")
    assert only.key == "landing/quotes/2024/07/05/q.jsonl"
    assert "03" not in opened and "05" in opened
