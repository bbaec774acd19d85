"""The on-site visit to its end (issue 13 item 3): book, record done and
signed, attach files (hashed, one commit, never overwritten, refused when
missing, a directory, a link or too big), `show`, `print` and `fsck`, and a
killed `attach` recovered, all on real git stores."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import Desk
from elinkctl.domain.layout import is_attachment_path, is_journalable, safe_name
from elinkctl.domain.visit import unique_name
from elinkctl.store.store import Store
from gitfixtures import KILL_AFTER, env_for, fsck_clean

BOOKED = "2026-11-23T10:30:00+08:00"
AFTER = "2026-11-24T16:00:00+08:00"
DONE = ("--done", "--start", "2026-11-24 14:05", "--end", "2026-11-24 15:10")


def _ticket(desk: Desk, *, book: bool = True) -> str:
    tid = desk.new(now="2026-11-23T10:00:00+08:00", location="3号楼501")
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    desk.ok("assign", tid, "--to", "李四", now="2026-11-23T10:10:00+08:00")
    if book:
        desk.ok("visit", tid, "--at", "2026-11-24 14:00", "-m", "带硒鼓", now=BOOKED)
    return tid


def _events(desk: Desk, tid: str, kind: str) -> list[dict[str, object]]:
    return [e for e in desk.json("show", tid)["events"] if e["type"] == kind]


def _one_line_error(result: object, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.output  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert text in stderr
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("Error:")] == [
        line for line in stderr.splitlines() if text in line
    ]


# --- visit: book and done ----------------------------------------------------------


def test_book_then_done_records_the_signed_form(desk: Desk) -> None:
    tid = _ticket(desk)
    assert desk.json("show", tid, now=AFTER)["visit_at"] == "2026-11-24T14:00:00+08:00"
    before = desk.commit_count()

    result = desk.ok(
        "visit",
        tid,
        *DONE,
        "-m",
        "更换硒鼓并测试打印",
        "--signed-by",
        "张三",
        user="李四",
        now=AFTER,
    )

    assert "on-site visit done 2026-11-24 14:05–15:10, signed by 张三" in result.stderr
    assert "walk-in" not in result.stderr
    assert desk.commit_count() == before + 1
    assert desk.git("log", "-1", "--format=%an %s").strip() == (
        f"李四 {tid}: on-site visit done 2026-11-24 14:05–15:10, signed by 张三"
    )
    (event,) = _events(desk, tid, "visit_done")
    assert event["at"] == "2026-11-24T15:10:00+08:00"  # when the user signed: the end
    assert event["by"] == "李四"
    assert event["start"] == "2026-11-24T14:05:00+08:00"
    assert event["end"] == "2026-11-24T15:10:00+08:00"
    assert event["work"] == "更换硒鼓并测试打印"
    assert event["signed_by"] == "张三"
    assert "walk_in" not in event
    shown = desk.json("show", tid, now=AFTER)
    assert shown["visit_done_at"] == "2026-11-24T15:10:00+08:00"
    card = desk.ok("show", tid, now=AFTER).stdout
    assert "done 2026-11-24 14:05–15:10 signed by 张三: 更换硒鼓并测试打印" in card
    fsck_clean(desk.root)


def test_done_at_says_when_the_form_was_signed(desk: Desk) -> None:
    tid = _ticket(desk)
    desk.ok("visit", tid, *DONE, "-m", "修复", "--signed-by", "张三", "--at", "15:30", now=AFTER)
    (event,) = _events(desk, tid, "visit_done")
    assert event["at"] == "2026-11-24T15:30:00+08:00"


def test_a_visit_nobody_booked_is_a_walk_in_with_a_note(desk: Desk) -> None:
    tid = _ticket(desk, book=False)
    result = desk.ok("visit", tid, *DONE, "-m", "路过修复", "--signed-by", "张三", now=AFTER)
    assert "note: no visit was booked" in result.stderr
    assert "walk-in" in result.stderr
    (event,) = _events(desk, tid, "visit_done")
    assert event["walk_in"] is True
    assert "walk-in   done" in desk.ok("show", tid, now=AFTER).stdout


def test_a_new_booking_after_a_visit_is_still_to_come(desk: Desk) -> None:
    tid = _ticket(desk)
    desk.ok("visit", tid, *DONE, "-m", "先换硒鼓", "--signed-by", "张三", now=AFTER)
    desk.ok("visit", tid, "--at", "2026-11-25 09:00", now=AFTER)
    shown = desk.json("show", tid, now=AFTER)
    assert shown["visit_at"] == "2026-11-25T09:00:00+08:00"
    assert shown["visit_done_at"] is None
    assert "   done" not in desk.ok("show", tid, now=AFTER).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--done", "--start", "15:10", "--end", "14:05", "-m", "x", "--signed-by", "张三"),
            "--end 2026-11-24 14:05 is before --start 2026-11-24 15:10",
        ),
        (
            ("--done", "--start", "17:00", "--end", "17:30", "-m", "x", "--signed-by", "张三"),
            "--start 2026-11-24 17:00 is in the future (now 2026-11-24 16:00)",
        ),
        (
            ("--done", "--start", "15:00", "--end", "16:30", "-m", "x", "--signed-by", "张三"),
            "--end 2026-11-24 16:30 is in the future",
        ),
        (
            ("--done", "--start", "14:00", "--end", "15:00", "--signed-by", "张三"),
            "--done needs -m WORK",
        ),
        (("--done", "--start", "14:00", "--end", "15:00", "-m", "x"), "--done needs --signed-by"),
        (
            ("--done", "--start", "14:00", "--end", "15:00", "-m", " ", "--signed-by", "张三"),
            "--done needs -m WORK",
        ),
        (("--done", "-m", "x", "--signed-by", "张三"), "--done needs --start and --end"),
        (
            (
                "--done",
                "--start",
                "2026-11-22 14:00",
                "--end",
                "15:00",
                "-m",
                "x",
                "--signed-by",
                "张",
            ),
            "is before the incident was opened",
        ),
        (
            (*DONE, "-m", "x", "--signed-by", "张三", "--at", "15:00"),
            "--at 2026-11-24 15:00 is before --end 2026-11-24 15:10",
        ),
        (
            (*DONE, "-m", "x", "--signed-by", "张三", "--booked-at", "15:00"),
            "--booked-at is for a booking",
        ),
        (("--start", "14:00", "--at", "15:00"), "--start, --end and --signed-by go with --done"),
        ((), "give --appointment TIME to book a visit, or --done to record one"),
    ],
)
def test_wrong_visits_are_one_line_usage_errors(
    desk: Desk, args: tuple[str, ...], message: str
) -> None:
    tid = _ticket(desk)
    before = desk.commit_count()
    result = desk.run("visit", tid, *args, now=AFTER)
    _one_line_error(result, 2, message)
    assert desk.commit_count() == before


def test_done_is_refused_before_acceptance(desk: Desk) -> None:
    tid = desk.new(now="2026-11-23T10:00:00+08:00")
    result = desk.run("visit", tid, *DONE, "-m", "x", "--signed-by", "张三", now=AFTER)
    _one_line_error(result, 1, "was new at 2026-11-24 15:10: a visit is recorded done while")


def test_done_after_resolving_on_site_is_allowed(desk: Desk) -> None:
    tid = _ticket(desk)
    desk.ok("resolve", tid, "--solution", "更换硒鼓", now="2026-11-24T15:20:00+08:00")
    desk.ok("visit", tid, *DONE, "-m", "更换硒鼓", "--signed-by", "张三", now=AFTER)
    assert desk.json("show", tid, now=AFTER)["status"] == "resolved"


# --- attach ----------------------------------------------------------------------


def _files(tmp: Path) -> tuple[Path, Path]:
    scan = tmp / "服务单-签字.pdf"
    scan.write_bytes(b"%PDF-1.4\n\x00\xff\xfe binary \x00")
    photo = tmp / "photo.jpg"
    photo.write_bytes(os.urandom(5000))
    return scan, photo


def test_attach_stores_hashes_and_commits_once(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    scan, photo = _files(tmp_path)
    before = desk.commit_count()

    result = desk.ok(
        "attach", tid, str(scan), str(photo), "-m", "签字单和照片", user="李四", now=AFTER
    )

    folder = f"attachments/{tid}"
    assert result.stdout.split() == [f"{folder}/服务单-签字.pdf", f"{folder}/photo.jpg"]
    assert f"{tid}: attached 2 files: 服务单-签字.pdf, photo.jpg" in result.stderr
    assert desk.commit_count() == before + 1
    changed = desk.git("-c", "core.quotePath=false", "show", "--name-only", "--format=", "HEAD")
    assert sorted(changed.splitlines()) == sorted(
        [f"{folder}/photo.jpg", f"{folder}/服务单-签字.pdf", f"tickets/2026/11/{tid}.yaml"]
    )
    assert desk.git("log", "-1", "--format=%an").strip() == "李四"
    for source in (scan, photo):
        stored = desk.root / folder / source.name
        assert stored.read_bytes() == source.read_bytes()
        assert (
            subprocess.run(
                ["git", "cat-file", "blob", f"HEAD:{folder}/{source.name}"],
                cwd=desk.root,
                capture_output=True,
                check=True,
            ).stdout
            == source.read_bytes()
        )
    (event,) = _events(desk, tid, "attached")
    assert event["by"] == "李四"
    assert event["note"] == "签字单和照片"
    assert event["files"] == [
        {
            "name": s.name,
            "size": s.stat().st_size,
            "sha256": hashlib.sha256(s.read_bytes()).hexdigest(),
        }
        for s in (scan, photo)
    ]
    assert desk.git("status", "--porcelain", "--untracked-files=all") == ""
    fsck_clean(desk.root)


def test_show_lists_attachments_and_json_has_them(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    scan, photo = _files(tmp_path)
    desk.ok("attach", tid, str(scan), str(photo), now=AFTER)
    card = desk.ok("show", tid, now=AFTER).stdout
    assert "attachments:" in card
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert any(
        "photo.jpg" in line and "4.9 KB" in line and digest[:12] in line
        for line in card.splitlines()
    )
    shown = desk.json("show", tid, now=AFTER)
    assert [a["name"] for a in shown["attachments"]] == ["服务单-签字.pdf", "photo.jpg"]
    assert shown["attachments"][1]["sha256"] == digest


def test_a_name_already_there_gets_a_suffix_never_overwritten(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    first = tmp_path / "a" / "scan.pdf"
    second = tmp_path / "b" / "scan.pdf"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    desk.ok("attach", tid, str(first), now=AFTER)
    result = desk.ok("attach", tid, str(second), str(second), now=AFTER)
    folder = desk.root / "attachments" / tid
    assert result.stdout.split() == [
        f"attachments/{tid}/scan-2.pdf",
        f"attachments/{tid}/scan-3.pdf",
    ]
    assert "stored as scan-2.pdf" in result.stderr
    assert "scan-3.pdf has the same content as scan-2.pdf" in result.stderr
    assert (folder / "scan.pdf").read_bytes() == b"first"
    assert (folder / "scan-2.pdf").read_bytes() == b"second"
    fsck_clean(desk.root)


def test_unsafe_names_are_made_safe(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    odd = tmp_path / ".my scan*\x07[1].pdf"
    odd.write_bytes(b"x")
    result = desk.ok("attach", tid, str(odd), now=AFTER)
    assert result.stdout.strip() == f"attachments/{tid}/my_scan_1_.pdf"
    fsck_clean(desk.root)


def _refused(desk: Desk, tid: str, *args: str, text: str) -> None:
    before = desk.commit_count()
    result = desk.run("attach", tid, *args, now=AFTER)
    _one_line_error(result, 1, text)
    assert desk.commit_count() == before
    assert not (desk.root / "attachments" / tid).exists()
    assert desk.git("status", "--porcelain", "--untracked-files=all") == ""


def test_a_missing_file_is_refused_and_nothing_is_written(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    scan, _ = _files(tmp_path)
    _refused(desk, tid, str(scan), str(tmp_path / "nope.pdf"), text="nope.pdf: no such file")


def test_a_directory_is_refused(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    _refused(desk, tid, str(tmp_path), text="a directory; attach the files in it")


def test_a_symbolic_link_is_refused(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    link = tmp_path / "link.txt"
    link.symlink_to(secret)
    _refused(desk, tid, str(link), text="link.txt: a symbolic link")


def test_a_linked_attachments_folder_is_never_written_through(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    outside = tmp_path / "outside"
    outside.mkdir()
    (desk.root / "attachments").symlink_to(outside)
    scan, _ = _files(tmp_path)
    before = desk.commit_count()
    result = desk.run("attach", tid, str(scan), now=AFTER)
    _one_line_error(result, 1, "attachments: a symbolic link; refusing to write through it")
    assert list(outside.iterdir()) == []
    assert desk.commit_count() == before


def test_a_2gb_file_is_refused_without_reading_it(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    huge = tmp_path / "huge.log"
    with huge.open("wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: no disk used
    _refused(desk, tid, str(huge), text="huge.log: 2.0 GB is over the 50 MB limit")


def _set_limit(desk: Desk, value: str) -> None:
    sla = desk.root / "sla.yaml"
    text = sla.read_text(encoding="utf-8")
    if "attachment_max_mb:" in text:
        text = re.sub(r"attachment_max_mb: .*", f"attachment_max_mb: {value}", text)
    else:
        text += f"\nprocedure:\n  attachment_max_mb: {value}\n"
    sla.write_text(text, encoding="utf-8")


def test_the_limit_is_configurable_in_sla_yaml(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    _set_limit(desk, "1")
    desk.git("commit", "-qam", "sla: attachments up to 1 MB")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))
    _refused(desk, tid, str(big), text="big.bin: 1.0 MB is over the 1 MB limit")
    small = tmp_path / "small.bin"
    small.write_bytes(b"\0" * (1024 * 1024))
    desk.ok("attach", tid, str(small), now=AFTER)


def test_a_broken_limit_is_a_config_error_naming_the_line(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    _set_limit(desk, "lots")
    scan, _ = _files(tmp_path)
    result = desk.run("attach", tid, str(scan), now=AFTER)
    _one_line_error(result, 1, "attachment_max_mb")
    assert "sla.yaml line" in result.stderr


def test_attach_without_files_is_a_usage_error(desk: Desk) -> None:
    tid = _ticket(desk)
    assert desk.run("attach", tid, now=AFTER).exit_code == 2


def test_attachments_are_not_in_the_index_or_list(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    scan, _ = _files(tmp_path)
    desk.ok("attach", tid, str(scan), now=AFTER)
    listed = desk.json("list", now=AFTER)
    assert [t["id"] for t in listed] == [tid]
    assert Store(desk.root).all_ids() == [tid]


# --- print -------------------------------------------------------------------------


def test_print_shows_the_booking_then_what_was_recorded(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    before = desk.ok("print", tid, now=AFTER).stdout
    assert "| 预约上门时间 | 2026-11-24 14:00 |" in before
    assert "| 开始时间 | ____" in before
    assert "已签字确认" not in before

    desk.ok("visit", tid, *DONE, "-m", "更换硒鼓并测试打印", "--signed-by", "张三", now=AFTER)
    scan, _ = _files(tmp_path)
    desk.ok("attach", tid, str(scan), now=AFTER)
    after = desk.ok("print", tid, now=AFTER).stdout
    assert "| 预约上门时间 | 2026-11-24 14:00 |" in after
    assert "| 开始时间 | 2026-11-24 14:05 |" in after
    assert "| 结束时间 | 2026-11-24 15:10 |" in after
    assert "| 现场工作 | 更换硒鼓并测试打印 |" in after
    assert "已签字确认：张三（2026-11-24 15:10，desk-wang 录入）" in after
    assert "附件：服务单-签字.pdf" in after
    html = desk.ok("print", tid, "--html", now=AFTER).stdout
    assert "更换硒鼓并测试打印" in html and "已签字确认：张三" in html


def test_print_of_a_walk_in_says_it_was_not_booked(desk: Desk) -> None:
    tid = _ticket(desk, book=False)
    desk.ok("visit", tid, *DONE, "-m", "修复", "--signed-by", "张三", now=AFTER)
    assert "| 预约上门时间 | 未预约（直接上门） |" in desk.ok("print", tid, now=AFTER).stdout


# --- fsck ----------------------------------------------------------------------------


def test_fsck_finds_changed_missing_and_unrecorded_attachments(desk: Desk, tmp_path: Path) -> None:
    tid = _ticket(desk)
    scan, photo = _files(tmp_path)
    desk.ok("attach", tid, str(scan), str(photo), now=AFTER)
    assert desk.ok("fsck").exit_code == 0
    folder = desk.root / "attachments" / tid
    (folder / "photo.jpg").write_bytes(b"tampered")
    (folder / "服务单-签字.pdf").unlink()
    (folder / "extra.txt").write_text("?")
    (desk.root / "attachments" / "junk").mkdir()
    result = desk.run("fsck")
    assert result.exit_code == 1
    out = result.stdout + result.stderr
    assert f"attachments/{tid}/photo.jpg: 8 bytes, the event says 5000" in out
    assert f"attachments/{tid}/服务单-签字.pdf: missing" in out
    assert f"attachments/{tid}/extra.txt: not recorded by an attached event" in out
    assert "attachments/junk: not an incident ID" in out


# --- the journal and recovery ---------------------------------------------------------


def test_attachment_paths_are_journalable_and_nothing_else() -> None:
    tid = "INC-261123-7KQ2M"
    assert is_journalable(f"attachments/{tid}/scan.pdf")
    assert is_journalable(f"attachments/{tid}/服务单.pdf")
    for bad in (
        "attachments/INC-bad/scan.pdf",
        f"attachments/{tid}/../../sla.yaml",
        f"attachments/{tid}/..",
        f"attachments/{tid}/.scan.pdf.1.tmp",
        f"attachments/{tid}/sub/scan.pdf",
        f"attachments/{tid}/a b.pdf",
        f"attachments/{tid}/a*.pdf",
        f"attachments/{tid}/",
        f"attachments/{tid}",
        "attachments/scan.pdf",
        f"other/{tid}/scan.pdf",
    ):
        assert not is_journalable(bad), bad


@given(st.text(max_size=300))
def test_safe_names_are_stable_and_journalable(name: str) -> None:
    safe = safe_name(name)
    assert safe == safe_name(safe)
    assert len(safe.encode("utf-8")) <= 150
    assert is_attachment_path(f"attachments/INC-261123-7KQ2M/{safe}")
    taken = {safe, unique_name(safe, {safe})}
    assert len(taken) == 2
    assert is_attachment_path(f"attachments/INC-261123-7KQ2M/{unique_name(safe, taken)}")


def test_unique_name_keeps_double_extensions_and_ignores_case() -> None:
    assert unique_name("logs.tar.gz", {"logs.tar.gz"}) == "logs-2.tar.gz"
    assert unique_name("Scan.PDF", {"scan.pdf", "scan-2.pdf"}) == "Scan-3.PDF"
    assert unique_name("README", {"readme"}) == "README-2"


def test_a_binary_file_goes_through_the_transaction(desk: Desk) -> None:
    tid = _ticket(desk)
    store = Store(desk.root)
    content = bytes(range(256)) * 4
    with store.transaction("李四") as tx:
        tx.put_file(desk.root / "attachments" / tid / "raw.bin", content, is_new=True)
        tx.commit("raw bytes")
    assert (desk.root / "attachments" / tid / "raw.bin").read_bytes() == content
    assert desk.git("status", "--porcelain") == ""


def test_a_journal_naming_a_path_out_of_attachments_is_discarded(desk: Desk) -> None:
    tid = _ticket(desk)
    sla = (desk.root / "sla.yaml").read_text(encoding="utf-8")
    (desk.root / "sla.yaml").write_text(sla + "\n# evil\n", encoding="utf-8")
    journal = desk.root / ".git" / "elinkctl" / "journal.json"
    journal.write_text(
        json.dumps({"paths": [f"attachments/{tid}/../../sla.yaml"], "message": "evil"}),
        encoding="utf-8",
    )
    desk.ok("comment", tid, "-m", "next", now=AFTER)
    assert not journal.exists()
    assert "evil" not in desk.git("log", "--format=%s")


def test_attachments_written_before_their_event_are_removed_on_recovery(
    desk: Desk, tmp_path: Path
) -> None:
    """Killed after writing the attachments, before the ticket: the next
    command removes them instead of committing files no event names."""
    tid = _ticket(desk)
    rel_ticket = f"tickets/2026/11/{tid}.yaml"
    rel_file = f"attachments/{tid}/scan.pdf"
    (desk.root / rel_file).parent.mkdir(parents=True)
    (desk.root / rel_file).write_bytes(b"half way")
    journal = desk.root / ".git" / "elinkctl" / "journal.json"
    journal.write_text(
        json.dumps({"paths": [rel_file, rel_ticket], "message": f"{tid}: attached scan.pdf"}),
        encoding="utf-8",
    )
    before = desk.commit_count()
    desk.ok("comment", tid, "-m", "next", now=AFTER)
    assert not (desk.root / rel_file).exists()
    assert desk.commit_count() == before + 1
    assert desk.git("status", "--porcelain", "--untracked-files=all") == ""
    fsck_clean(desk.root)


@pytest.mark.parametrize(("step", "moved"), [("hash_files", False), ("move_head", True)])
def test_a_killed_attach_is_finished_by_the_next_command(
    desk: Desk, tmp_path: Path, step: str, moved: bool
) -> None:
    tid = _ticket(desk)
    scan, photo = _files(tmp_path)
    before = desk.commit_count()
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER, step, "attach", tid, str(scan), str(photo)],
        env=env_for(desk.root, "李四", AFTER),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    desk.ok("comment", tid, "-m", "next", now=AFTER)
    subjects = desk.git("log", "--format=%s").splitlines()
    assert len(subjects) == before + 2
    assert subjects[1].startswith(f"{tid}: attached 2 files")
    assert subjects[1].endswith("(recovered after interruption)") is (not moved)
    changed = desk.git("show", "--name-only", "--format=", "HEAD~1").splitlines()
    assert len(changed) == 3
    (event,) = _events(desk, tid, "attached")
    assert [f["name"] for f in event["files"]] == ["服务单-签字.pdf", "photo.jpg"]  # type: ignore[index]
    assert desk.git("status", "--porcelain", "--untracked-files=all") == ""
    fsck_clean(desk.root)


def test_fsck_names_an_attachment_that_is_no_plain_file_or_a_link(
    desk: Desk, tmp_path: Path
) -> None:
    """A FIFO or a link where an attachment was: said as such, not "missing"
    (and the FIFO is never opened: fsck would wait on it)."""
    tid = _ticket(desk)
    scan, photo = _files(tmp_path)
    desk.ok("attach", tid, str(scan), str(photo), now=AFTER)
    folder = desk.root / "attachments" / tid
    (folder / "photo.jpg").unlink()
    os.mkfifo(folder / "photo.jpg")
    (folder / "服务单-签字.pdf").unlink()
    (folder / "服务单-签字.pdf").symlink_to(scan)
    result = desk.run("fsck")
    assert result.exit_code == 1
    out = result.stdout + result.stderr
    assert f"attachments/{tid}/photo.jpg: not a plain file" in out
    assert f"attachments/{tid}/服务单-签字.pdf: a symbolic link" in out
    assert "missing" not in out
