import datetime as dt

from stock_assets.market.arrivals import ArrivalCursor, ObjectInfo, new_arrivals, run_key

T0 = dt.datetime(2024, 7, 5, 14, 0, tzinfo=dt.UTC)


def obj(key: str, seconds: int, version: str = "v1") -> ObjectInfo:
    return ObjectInfo(
        key=key, last_modified=T0 + dt.timedelta(seconds=seconds), version=version, size=10
    )


def test_first_listing_takes_everything_oldest_first():
    fresh, cursor = new_arrivals([obj("b", 5), obj("a", 1)], ArrivalCursor())
    assert [o.key for o in fresh] == ["a", "b"]
    assert cursor.watermark == T0 + dt.timedelta(seconds=5)


def test_unchanged_relisting_is_not_new_even_at_the_same_instant():
    listing = [obj("a", 1), obj("b", 5), obj("c", 5)]
    _, cursor = new_arrivals(listing, ArrivalCursor())
    again, same = new_arrivals(listing, ArrivalCursor.from_json(cursor.to_json()))
    assert again == [] and same == cursor


def test_a_new_key_at_the_watermark_instant_is_new():
    _, cursor = new_arrivals([obj("a", 5)], ArrivalCursor())
    fresh, _ = new_arrivals([obj("a", 5), obj("b", 5)], cursor)
    assert [o.key for o in fresh] == ["b"]


def test_rewritten_key_is_new_again():
    _, cursor = new_arrivals([obj("a", 1)], ArrivalCursor())
    fresh, _ = new_arrivals([obj("a", 9, version="v2")], cursor)
    assert [(o.key, o.version) for o in fresh] == [("a", "v2")]


def test_late_visible_object_with_older_timestamp_is_caught_within_settle():
    _, cursor = new_arrivals([obj("a", 100)], ArrivalCursor())
    fresh, _ = new_arrivals([obj("a", 100), obj("slow-upload", 40)], cursor)
    assert [o.key for o in fresh] == ["slow-upload"]
    stale, _ = new_arrivals([obj("ancient", -3600)], cursor)
    assert stale == []


def test_limit_defers_the_rest_to_the_next_tick():
    listing = [obj(f"k{i:02d}", i) for i in range(10)]
    first, cursor = new_arrivals(listing, ArrivalCursor(), limit=4)
    rest, _ = new_arrivals(listing, cursor)
    assert [o.key for o in first + rest] == [o.key for o in listing]


def test_cursor_forgets_what_is_older_than_the_window():
    _, cursor = new_arrivals([obj("a", 0)], ArrivalCursor())
    _, later = new_arrivals([obj("b", 3600)], cursor)
    assert {k for k, _, _ in later.seen} == {"b"}


def test_run_key_depends_on_keys_and_versions_not_order():
    a, b = obj("a", 1), obj("b", 2)
    assert run_key([a, b]) == run_key([b, a])
    assert run_key([a]) != run_key([obj("a", 1, version="v2")])


def test_the_seen_set_remembers_each_version_taken_inside_the_window():
    _, cursor = new_arrivals([obj("a", 100), obj("b", 200)], ArrivalCursor())
    assert cursor.seen == {
        ("a", "v1", T0 + dt.timedelta(seconds=100)),
        ("b", "v1", T0 + dt.timedelta(seconds=200)),
    }
    assert cursor.has_seen(obj("a", 100)) and not cursor.has_seen(obj("a", 100, version="v2"))


def test_the_seen_set_keeps_earlier_entries_still_inside_the_window():
    # "a" was taken in an earlier tick; it is still within settle of the new watermark, so
    # listing it again (a late-visible object lists beside it) must not take it twice.
    _, cursor = new_arrivals([obj("a", 100)], ArrivalCursor())
    fresh, cursor = new_arrivals([obj("a", 100), obj("b", 160)], cursor)
    assert [o.key for o in fresh] == ["b"]
    assert ("a", "v1", T0 + dt.timedelta(seconds=100)) in cursor.seen
    again, _ = new_arrivals([obj("a", 100), obj("b", 160)], cursor)
    assert again == []


def test_the_seen_set_forgets_entries_older_than_the_window():
    settle = dt.timedelta(seconds=60)
    _, cursor = new_arrivals([obj("a", 0)], ArrivalCursor(), settle=settle)
    _, cursor = new_arrivals([obj("b", 61)], cursor, settle=settle)
    assert {key for key, _, _ in cursor.seen} == {"b"}  # "a" can no longer be listed as new
    _, cursor = new_arrivals([obj("c", 120)], cursor, settle=settle)
    assert {key for key, _, _ in cursor.seen} == {"b", "c"}  # 61 is within 60 s of 120


def test_an_object_exactly_settle_before_the_watermark_is_still_new():
    settle = dt.timedelta(seconds=60)
    _, cursor = new_arrivals([obj("a", 100)], ArrivalCursor(), settle=settle)
    fresh, cursor = new_arrivals([obj("late", 40), obj("older", 39)], cursor, settle=settle)
    assert [o.key for o in fresh] == ["late"]
    assert ("a", "v1", T0 + dt.timedelta(seconds=100)) in cursor.seen  # 40 s back: kept


def test_at_most_limit_objects_are_taken_by_default():
    listing = [obj(f"k{n:04d}", n) for n in range(1001)]
    fresh, cursor = new_arrivals(listing, ArrivalCursor())
    assert len(fresh) == 1000 and cursor.watermark == T0 + dt.timedelta(seconds=999)


def test_the_run_key_is_32_hex_digits():
    key = run_key([obj("a", 1)])
    assert key.startswith("landing-") and len(key) == len("landing-") + 32


def test_an_empty_cursor_round_trips_through_json():
    assert ArrivalCursor.from_json(ArrivalCursor().to_json()) == ArrivalCursor()
    assert ArrivalCursor.from_json(None) == ArrivalCursor()


def test_an_entry_exactly_settle_older_than_the_watermark_is_remembered():
    settle = dt.timedelta(seconds=60)
    _, cursor = new_arrivals([obj("a", 0)], ArrivalCursor(), settle=settle)
    _, cursor = new_arrivals([obj("a", 0), obj("b", 60)], cursor, settle=settle)
    assert {key for key, _, _ in cursor.seen} == {"a", "b"}
    again, _ = new_arrivals([obj("a", 0), obj("b", 60)], cursor, settle=settle)
    assert again == []  # "a" is still listable (at the window's floor) and not taken twice


def test_the_key_floor_passes_only_objects_settled_before_the_window():
    settle = dt.timedelta(seconds=60)
    listing = [obj("d1/a", 0), obj("d1/b", 10), obj("d2/c", 200), obj("d2/d", 230)]
    _, cursor = new_arrivals(listing, ArrivalCursor(), settle=settle)
    # c and d are within 60 s of the watermark (230): a late key beside them is still listed.
    assert cursor.start_after == "d1/b"
    assert ArrivalCursor.from_json(cursor.to_json()) == cursor


def test_the_key_floor_never_passes_objects_deferred_by_the_limit():
    listing = [obj(f"k{n:03d}", n) for n in range(10)]
    first, cursor = new_arrivals(listing, ArrivalCursor(), limit=4, settle=dt.timedelta(0))
    assert cursor.start_after == "k002"  # k003 is the watermark; k004.. are still to come
    rest, _ = new_arrivals([o for o in listing if o.key > cursor.start_after], cursor)
    assert [o.key for o in first + rest] == [o.key for o in listing]


def test_a_tick_without_arrivals_still_moves_the_floor_past_settled_objects():
    cursor = ArrivalCursor(watermark=T0 + dt.timedelta(hours=1))  # written before the floor
    none, cursor = new_arrivals([obj("a", 0), obj("b", 10)], cursor)
    assert none == [] and cursor.start_after == "b"
    again, same = new_arrivals([], cursor)  # the next listing starts after b: nothing
    assert again == [] and same == cursor


def test_a_cursor_written_before_the_key_floor_lists_everything_once():
    old = '{"watermark": "2024-07-05T14:00:00+00:00", "seen": []}'
    assert ArrivalCursor.from_json(old).start_after is None


def test_the_key_floor_stays_when_every_listed_object_is_inside_the_window():
    _, cursor = new_arrivals([obj("d1/a", 0), obj("d2/b", 10)], ArrivalCursor())
    assert cursor.start_after is None  # both within settle of the watermark: none passed
    # The next listing starts after a floor from an earlier tick; the new arrival is inside
    # the window with nothing below it, so the floor is kept, not reset to list everything.
    kept = ArrivalCursor(cursor.watermark, cursor.seen, start_after="d0/z")
    fresh, after = new_arrivals([obj("d2/c", 20)], kept)
    assert [o.key for o in fresh] == ["d2/c"] and after.start_after == "d0/z"
