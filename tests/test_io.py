"""Atomic outputs on a full disk: DiskFullError names the output, the temporary copy is gone and the old
output stays; a jsonl log cut off mid-line reads back without its last partial row."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rankscope.errors import InputError
from rankscope.io import DiskFullError, atomic_dir, atomic_file, disk_full, read_jsonl


def test_disk_full_recognises_what_libraries_raise() -> None:
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(OSError(errno.EFBIG, "File too large"))
    assert disk_full(Exception("Error while serializing: I/O error: File too large (os error 27)"))
    try:
        try:
            raise RuntimeError("basic_ios::clear: iostream error")
        except RuntimeError as inner:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from inner
    except RuntimeError as e:
        assert disk_full(e)  # torch.save: the cause says it
    assert not disk_full(OSError(errno.ENOENT, "No such file or directory"))
    assert not disk_full(ValueError("bad value"))


def test_atomic_file_on_a_full_disk(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("old\n")
    with pytest.raises(DiskFullError, match=f"disk full while writing {path}"), atomic_file(path) as tmp:
        tmp.write_text("new, half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.trec"]


def test_atomic_dir_on_a_full_disk_names_the_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.trec").write_text("old\n")
    with pytest.raises(DiskFullError) as exc, atomic_dir(out, overwrite=True) as tmp:
        raise OSError(errno.EFBIG, "File too large", str(tmp / "metrics.json"))
    assert exc.value.path == str(out / "metrics.json")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (out / "run.trec").read_text() == "old\n"
    with pytest.raises(ValueError), atomic_dir(tmp_path / "other") as tmp:
        raise ValueError("not a full disk: raised as it is")


def test_read_jsonl_drops_a_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / "loss.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\n{"step": 2}')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]


def test_temporary_copies_of_killed_processes_are_removed(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from rankscope.io import remove_stale

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    stale_dir = tmp_path / f".out.tmp-{host}-{int(dead.stdout)}-abc"
    stale_dir.mkdir()
    (stale_dir / "run.trec").write_text("half")
    live = tmp_path / f".out.tmp-{host}-{os.getppid()}-def"  # a process still running: kept
    live.mkdir()
    other_host = tmp_path / f".out.tmp-elsewhere-{int(dead.stdout)}-ghi"  # another machine's: kept
    other_host.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "run.trec").write_text("whole")
    assert not stale_dir.exists() and live.is_dir() and other_host.is_dir()
    assert (tmp_path / "out" / "run.trec").read_text() == "whole"
    stale_file = tmp_path / f".x.json.tmp-{host}-{int(dead.stdout)}-jkl"
    stale_file.write_text("{")
    assert remove_stale(tmp_path / "x.json") == [stale_file] and not stale_file.exists()


def test_atomic_files_get_the_usual_permissions(tmp_path: Path) -> None:
    from rankscope.io import atomic_dir, write_json

    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "run.trec").write_text("")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755  # 0700 before, whatever the umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "out"]


def test_a_full_disk_in_a_file_of_an_output_folder_names_it(tmp_path: Path) -> None:
    from rankscope.io import write_json

    out = tmp_path / "out"
    with pytest.raises(DiskFullError) as exc, atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", {"x": 1})
        with atomic_file(tmp / "run.trec"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert exc.value.path == str(out / "run.trec")
    assert list(tmp_path.iterdir()) == []


def test_an_output_of_the_wrong_kind_is_named(tmp_path: Path) -> None:
    from rankscope.errors import InputError

    a_file = tmp_path / "run.trec"
    a_file.write_text("x\n")
    with pytest.raises(InputError, match="run.trec: exists and is not a folder"), atomic_dir(a_file):
        pass
    with pytest.raises(InputError, match="is a folder: the output is a file"), atomic_file(tmp_path):
        pass
    assert a_file.read_text() == "x\n"


def test_atomic_dir_never_deletes_what_it_should_not(tmp_path: Path, monkeypatch) -> None:
    """`--out .` made the temporary folder inside the output and then deleted both (the user's files and
    the new output); a link to a folder raised after all the work and left a hidden folder; an output
    holding an input deleted the input under --overwrite."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep")
    monkeypatch.chdir(work)
    for out in (".", "./", str(tmp_path)):
        with pytest.raises(InputError, match="the folder you are working in"), atomic_dir(out, True) as tmp:
            (tmp / "x").write_text("new")
    assert (work / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]

    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    (real / "old.txt").write_text("old")
    link.symlink_to(real, target_is_directory=True)
    with atomic_dir(link, True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert link.is_symlink() and sorted(p.name for p in link.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real", "work"]  # nothing left beside

    data = tmp_path / "data"
    data.mkdir()
    (data / "queries.tsv").write_text("q1\tflea\n")
    for out in (data, tmp_path):  # the input's folder, or one holding it
        with (
            pytest.raises(InputError, match="would replace or lie inside the input"),
            atomic_dir(out, True, [data / "queries.tsv", None, "bm25"]),
        ):
            pass
    assert (data / "queries.tsv").read_text() == "q1\tflea\n"
    with atomic_dir(data / "eval", True, [data]) as tmp:  # inside an input folder: nothing read is replaced
        (tmp / "run.trec").write_text("x")
    assert (data / "eval" / "run.trec").is_file() and (data / "queries.tsv").is_file()


def test_atomic_dir_swaps_by_renames(tmp_path: Path, monkeypatch) -> None:
    """The old output is renamed aside, the new one renamed in, and only then is the old one deleted (it
    was deleted in place first, so a kill left half of it); a failed rename puts the old one back."""
    import os

    from rankscope import io as rio

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src, dst):  # noqa: ANN001
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2 and fail:
            raise OSError("rename failed")
        real_replace(src, dst)

    monkeypatch.setattr(rio.os, "replace", replace)
    fail = True
    with pytest.raises(OSError, match="rename failed"), rio.atomic_dir(out, True) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and (out / "a.txt").read_text() == "old"
    fail, calls[:] = False, []
    with rio.atomic_dir(out, True) as tmp:
        (tmp / "b.txt").write_text("new")
    assert calls[0][0] == "out" and "-old-" in calls[0][1] and calls[1][1] == "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and sorted(os.listdir(out)) == ["b.txt"]


def test_an_output_left_aside_by_a_kill_is_put_back(tmp_path: Path) -> None:
    """A kill between the swap's two renames leaves the earlier output only in its aside copy, which the
    next run's clean-up of dead processes' copies deleted; the next run puts it back first."""
    import socket

    out = tmp_path / "out"
    aside = tmp_path / f".out.tmp-{socket.gethostname()}-999999-old-0123abcd"  # a dead process's
    aside.mkdir()
    (aside / "run.trec").write_text("earlier")
    with pytest.raises(InputError, match="pass --overwrite"), atomic_dir(out):
        pass
    assert (out / "run.trec").read_text() == "earlier" and sorted(p.name for p in tmp_path.iterdir()) == [
        "out"
    ]


def test_a_link_to_a_file_is_written_through(tmp_path: Path) -> None:
    target, link = tmp_path / "target.trec", tmp_path / "link.trec"
    target.write_text("old")
    link.symlink_to(target)
    with atomic_file(link) as tmp:
        tmp.write_text("new")
    assert link.is_symlink() and target.read_text() == "new"
