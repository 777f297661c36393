"""-o and --pprof name a file; when that is not a regular file (a FIFO,
/dev/null, /dev/stdout) goparked writes into it, never renames over it.

An earlier version wrote FILE.tmpPID and renamed it onto FILE: `-o
/dev/null` replaced the machine's /dev/null with a regular file."""

import gzip
import os
import stat
import threading

import pytest


def _read_fifo(path, out):
    with open(path, "rb") as f:
        out.append(f.read())


@pytest.mark.parametrize("what", ["pprof", "report-md", "report-html"])
def test_output_into_a_fifo_stays_a_fifo(tmp_path, tiny_go, run_goparked, what):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=_read_fifo, args=(str(fifo), got),
                              daemon=True)
    reader.start()
    if what == "pprof":
        args = [tiny_go.core, "--exe", tiny_go.exe, "--pprof", fifo]
    else:
        args = ["report", tiny_go.core, "--exe", tiny_go.exe, "-o", fifo,
                "--format", "md" if what == "report-md" else "html"]
    r = run_goparked(args)
    reader.join(10)
    if reader.is_alive():
        # Nobody wrote into the FIFO (it was renamed over): release the
        # reader, which still waits for a writer to open it.
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        reader.join(10)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO was replaced"
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]
    assert got, "nothing was written into the FIFO"
    data = got[0]
    if what == "pprof":
        assert gzip.decompress(data)  # a whole profile came through
    elif what == "report-md":
        assert b"main.recvForever" in data
    else:
        assert data.lstrip().lower().startswith(b"<!doctype html")
