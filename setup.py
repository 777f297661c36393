"""pip install . : builds libgoparked.so with make and installs it inside
the goparked package, with a `goparked` console script, and the GDB and LLDB
scripts in goparked/_debuggers/ (`goparked --gdb-script` names them).

Metadata is in pyproject.toml; this file only hooks the engine build in.
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithEngine(build_py):
    """Run make for the engine, then copy the library into the package."""

    def run(self):
        super().run()
        build_dir = os.path.join(os.path.abspath(self.build_lib), "..",
                                 "goparked-native")
        build_dir = os.path.normpath(build_dir)
        subprocess.check_call(["make", "-C", HERE, "all",
                               "BUILD=" + build_dir])
        dest = os.path.join(self.build_lib, "goparked", "libgoparked.so")
        self.mkpath(os.path.dirname(dest))
        shutil.copyfile(os.path.join(build_dir, "libgoparked.so"), dest)
        scripts = os.path.join(self.build_lib, "goparked", "_debuggers")
        self.mkpath(scripts)
        for src in ("gdb/goparked-gdb.py", "lldb/goparked_lldb.py",
                    "lldb/goparked_os.py"):
            shutil.copyfile(os.path.join(HERE, src),
                            os.path.join(scripts, os.path.basename(src)))


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithEngine}, distclass=BinaryDistribution)
