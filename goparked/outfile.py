"""Writing an output file the user named (-o, --pprof)."""

import os
import stat


def write_output(path, data):
    """Write bytes to path. A regular file (or a new one) is replaced whole,
    through a temporary file renamed into place, so a reader never sees half
    a report. Anything else (/dev/null, a FIFO, /dev/stdout, a terminal) is
    written in place: renaming over it would replace the device itself."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "wb") as f:
            f.write(data)
        return
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
