"""The run journal keeps every reading durably and survives a torn last line."""
import json

import pytest

from labauto.engine.journal import JournalError, RunJournal


def _journal(tmp_path):
    return RunJournal.create(tmp_path / "run" / "journal.jsonl", {"run_id": "r1", "procedure": {"sha256": "x"}})


def test_records_and_state(tmp_path):
    j = _journal(tmp_path)
    j.point_start("P1", 1)
    for i, v in enumerate([1.0, 1.1, 0.9]):
        j.reading("P1", 1, i, v, "V")
    j.point_done("P1", 1)
    j.point_start("P2", 1)
    j.reading("P2", 1, 0, 5.0, "V")
    j.point_failed("P2", 1, "TransientVisaError: lost")
    j.point_start("P2", 2)
    j.reading("P2", 2, 0, 5.1, "V")
    j.reading("P2", 2, 1, 5.2, "V")
    j.point_done("P2", 2)
    j.append({"type": "instrument", "role": "item", "serial": "S1"})
    s = j.read()
    assert s.header["run_id"] == "r1"
    assert s.completed_ids() == {"P1", "P2"}
    assert [r["value"] for r in s.points["P1"].readings] == [1.0, 1.1, 0.9]
    # the failed attempt's reading is kept in the journal but not mixed into the result
    assert [r["value"] for r in s.points["P2"].readings] == [5.1, 5.2]
    assert s.points["P2"].attempts[1][0]["value"] == 5.0
    assert s.points["P2"].next_attempt == 3
    assert s.instruments["item"]["serial"] == "S1"


def test_incomplete_point_not_completed(tmp_path):
    j = _journal(tmp_path)
    j.point_start("P1", 1)
    j.reading("P1", 1, 0, 1.0, "V")
    s = j.read()
    assert s.completed_ids() == set() and s.points["P1"].readings == []
    assert s.points["P1"].next_attempt == 2


def test_torn_tail_is_dropped_and_appends_continue(tmp_path):
    j = _journal(tmp_path)
    j.point_start("P1", 1)
    j.reading("P1", 1, 0, 1.0, "V")
    with open(j.path, "ab") as f:
        f.write(b'{"type":"reading","point_id":"P1","att')   # process killed mid-write
    s = j.read()
    assert s.torn_tail and len(s.points["P1"].attempts[1]) == 1
    j.reading("P1", 1, 1, 2.0, "V")
    s = j.read()
    assert not s.torn_tail and [r["value"] for r in s.points["P1"].attempts[1]] == [1.0, 2.0]


def test_corruption_in_the_middle_is_refused(tmp_path):
    j = _journal(tmp_path)
    j.point_start("P1", 1)
    lines = j.path.read_text().splitlines()
    j.path.write_text(lines[0] + "\n{garbage\n" + lines[1] + "\n")
    with pytest.raises(JournalError, match=r"journal.jsonl:2: corrupt"):
        j.read()


def test_create_refuses_existing(tmp_path):
    _journal(tmp_path)
    with pytest.raises(JournalError, match="resume"):
        _journal(tmp_path)


def test_every_line_is_json_with_timestamp(tmp_path):
    j = _journal(tmp_path)
    j.reading("P1", 1, 0, 1.25, "mV")
    recs = [json.loads(x) for x in j.path.read_text().splitlines()]
    assert recs[1]["value"] == 1.25 and recs[1]["unit"] == "mV" and "T" in recs[1]["t"]


def test_a_record_the_disk_cannot_take_is_refused_whole_and_the_journal_stays_readable(tmp_path):
    # a disk filling mid-record (here: a file-size limit in a child process) must not leave a torn
    # line that the next record is glued onto; the error names the journal file
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent(f"""
        import resource, signal
        from labauto.engine.journal import JournalError, RunJournal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        j = RunJournal.create({str(tmp_path / "journal.jsonl")!r}, {{"run_id": "x"}})
        j.reading("P1", 1, 0, 10.000012, "V")
        size = j.path.stat().st_size
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, resource.RLIM_INFINITY))
        try:
            j.reading("P1", 1, 1, 10.000013, "V")
        except JournalError as exc:
            print("refused:", exc)
        assert j.path.stat().st_size == size, "the torn part was not cut back"
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        j.reading("P1", 1, 1, 10.000013, "V")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "journal.jsonl: cannot record reading" in out.stdout
    state = RunJournal(tmp_path / "journal.jsonl").read()
    assert [r["value"] for r in state.points["P1"].attempts[1]] == [10.000012, 10.000013]
    assert not state.torn_tail


def test_a_whole_last_record_that_lost_only_its_newline_is_kept(tmp_path):
    # a crash after the JSON but before the newline: the record is complete and must survive
    j = _journal(tmp_path)
    j.point_start("P1", 1)
    with open(j.path, "ab") as f:
        f.write(b'{"attempt":1,"index":0,"point_id":"P1","t":"x","type":"reading","unit":"V","value":1.5}')
    s = j.read()
    assert s.torn_tail and [r["value"] for r in s.points["P1"].attempts[1]] == [1.5]
    size = j.path.stat().st_size
    assert RunJournal(j.path).read() and j.path.stat().st_size == size     # reading changes nothing
    j.reading("P1", 1, 1, 2.5, "V")
    s = j.read()
    assert not s.torn_tail and [r["value"] for r in s.points["P1"].attempts[1]] == [1.5, 2.5]
