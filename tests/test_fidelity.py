"""The helpers that judge a replay (tests/fidelity.py), on plain data: they must catch a request
no person sent and let through only what legitimately differs between runs."""

from __future__ import annotations

import pytest

from tests.fidelity import (
    access_log_lines,
    assert_no_secret_in,
    normalise_line,
    unrecorded_lines,
)

RECORDED = [
    "GET /tracker/",
    "POST /tracker/",
    "GET /tracker/?%40ok_message=Welcome+alice%21",
    "GET /tracker/issue?@columns=id,activity,title&@sort=-activity&@group=priority&@startwith=0",
    "GET /tracker/issue?@template=item",
    "POST /tracker/issue",
    "GET /tracker/issue3?@ok_message=msg%201%20created%0Aissue%203%20created&@template=item",
    "POST /tracker/issue3",
    "GET /wiki/doku.php?id=start&do=edit",
    "GET /api/notes/?_=1796063597151",
    "GET /files/0b7c2a4e-3f1d-4c55-9a0e-8d6f2b1c9e47/",
    "GET /reset/?token=uiFZ_Hv7j9jsc7IUarG4aJ_lCcUT_6womJIsCAx2seG2",
    "GET /activity/?since=2026-11-30.18:31:46",
    "GET /admin/notes/note/3/change/",
    "GET /tracker/rest/data/status?@verbose=2",
    "GET /tracker/rest/data/keyword?@verbose=2",
    "GET /tracker/rest/data/status?@verbose=2",
]


@pytest.mark.parametrize("line", [
    "GET /tracker/issue57?@ok_message=msg%20112%20created%0Aissue%2057%20created&@template=item",  # other ids
    "POST /tracker/issue57",
    "GET /tracker/issue?@sort=-activity&@columns=id,activity,title&@startwith=0&@group=priority",  # another order
    "GET /tracker/issue?%40columns=id%2Cactivity%2Ctitle&%40sort=-activity&%40group=priority&%40startwith=0",  # encoded
    "GET /api/notes/?_=1796063999999",  # a fresh cache-buster
    "GET /files/5e0c81a2-77a0-4b0b-b7c1-0c2f4d2a6e10/",  # another UUID
    "GET /reset/?token=Zq0OegjL6_9c8HSQ8boBCub-Y01p4XXYaJdQG",  # another token
    "GET /activity/?since=2027-01-02.03:04:05",  # another timestamp
    "GET /admin/notes/note/118/change/",
])
def test_what_differs_legitimately_between_runs_is_not_reported(line):
    assert unrecorded_lines(RECORDED, [line]) == []


@pytest.mark.parametrize("line", [
    "GET /tracker/issue?@columns=id,activity,title&@sort=activity&@group=priority&@startwith=0",  # the opposite order
    "GET /wiki/doku.php?id=start&do=search",  # another form's action
    "GET /tracker/issue?@template=search",
    "GET /tracker/issue?@template=item&@sort=-activity",  # an extra parameter
    "GET /tracker/issue",  # a missing one
    "GET /tracker/?%40ok_message=Welcome+carol%21",  # a user nobody recorded...
    "DELETE /admin/notes/note/3/change/",
    "GET /admin/notes/note/3/delete/",
    "GET /tracker/rest/data/status?@verbose=3",  # a constant the recording always sent as 2
])
def test_a_request_no_person_sent_is_reported(line):
    assert unrecorded_lines(RECORDED, [line, "GET /tracker/"]) == [line]


def test_user_names_from_data_are_per_run_values_when_named():
    line = "GET /tracker/?%40ok_message=Welcome+carol%21"
    assert unrecorded_lines(RECORDED, [line], per_run=["alice", "carol"]) == []
    assert unrecorded_lines(RECORDED, ["GET /tracker/?%40ok_message=Goodbye+carol%21"], per_run=["alice", "carol"])


def test_digits_are_ids_unless_the_recording_shows_a_constant():
    assert unrecorded_lines(RECORDED, ["GET /tracker/rest/data/keyword?@verbose=3"]) == []  # sent once: may vary
    assert unrecorded_lines(RECORDED, ["GET /tracker/rest/data/status?@verbose=2"]) == []


def test_normalised_lines_keep_parameter_names():
    assert normalise_line("GET /x?@sort0=title")[2] == (("@sort0", "title"),)
    assert normalise_line("GET /x?@sort0=title") != normalise_line("GET /x?@sort1=title")


def test_both_access_log_formats_are_read(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        "Roundup server started on 127.0.0.1:49265\n"
        '127.0.0.1 - - [30/Nov/2026 18:31:04] "GET /tracker/ HTTP/1.1" 200 - oDWY4uOc1Lv1HTOzpeE6nH\n'
        '127.0.0.1 - - [30/Nov/2026 18:31:37] "POST /tracker/issue HTTP/1.1" 302 - s4mL69sLloHmsbCoqParNH\n'
        "Traceback (most recent call last):\n"
        '[30/Nov/2026 12:33:17] "GET /api/notes/?_=1796063597151 HTTP/1.1" 200 525\n'
        '[30/Nov/2026 12:33:17] "POST /admin/logout/ HTTP/1.1" 302 0\n'
    )
    assert access_log_lines(log) == ["GET /tracker/", "POST /tracker/issue", "GET /api/notes/?_=1796063597151", "POST /admin/logout/"]
    start = len(log.read_bytes().split(b"Traceback")[0])
    assert access_log_lines(log, start) == ["GET /api/notes/?_=1796063597151", "POST /admin/logout/"]


def test_typed_passwords_are_found_as_typed_or_url_encoded(tmp_path):
    clean = tmp_path / "clean.yaml"
    clean.write_text("password: ${password}\n")
    assert_no_secret_in([clean], ["alice-pass-123"])
    leaked = tmp_path / "out" / "leaked.yaml"
    leaked.parent.mkdir()
    leaked.write_text("a: 1\nbody: __login_name=alice&__login_password=p%40ss+word%21\n")
    with pytest.raises(AssertionError, match=r"leaked.yaml:2: 'p@ss word!'"):
        assert_no_secret_in([tmp_path], ["alice-pass-123", "p@ss word!"])
