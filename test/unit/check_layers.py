#!/usr/bin/python3
"""The layer check (scripts/check-layers) fails where it must.

Run by `make check`. Each case writes a small tree (a doc with a ```layers
block, a few C files under src/) into a temporary directory, runs the check
on it and looks at its exit status and what it names. The real tree is
checked by scripts/check-layers itself, also in `make check`.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(os.environ.get("srcdir") or os.path.join(HERE, "..", ".."),
                     "scripts", "check-layers")

DOC = """\
# layers

```layers
src/top/  src/cli/    the programs
    |
src/mid/  src/side/   two peers
    |
src/low/              the bottom

seam   src/top/seam.h
never  src/mid/* -> src/low/secret.*
{extra}
```
"""

# A clean tree: every include points down.
FILES = {
    "src/low/base.h": "int base(void);\n",
    "src/low/base.c": '#include "low/base.h"\nint base(void) { return 1; }\n',
    "src/low/secret.h": "int secret(void);\n",
    "src/low/secret.c": '#include "low/secret.h"\nint secret(void) { return 2; }\n',
    "src/mid/m.h": '#include "low/base.h"\nint m(void);\n',
    "src/mid/m.c": '#include "mid/m.h"\n#include "top/seam.h"\nint m(void) { return base(); }\n',
    "src/side/s.h": "int s(void);\n",
    "src/side/s.c": '#include "side/s.h"\n#include "low/secret.h"\nint s(void) { return secret(); }\n',
    "src/top/seam.h": "struct seam { int (*f)(void); };\n",
    "src/top/t.c": '#include "mid/m.h"\n#include "side/s.h"\nint t(void);\nint t(void) { return m() + s(); }\n',
    "src/cli/c.c": '#include "top/seam.h"\nint c(void);\nint c(void) { return 0; }\n',
}


class LayerCheck(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="check-layers-")
        self.addCleanup(shutil.rmtree, self.dir)

    def tree(self, extra="", add=None, drop=()):
        files = dict(FILES)
        files.update(add or {})
        for name in drop:
            del files[name]
        os.makedirs(os.path.join(self.dir, "doc"), exist_ok=True)
        with open(os.path.join(self.dir, "doc", "architecture.md"), "w") as f:
            f.write(DOC.format(extra=textwrap.dedent(extra)))
        for name, text in files.items():
            path = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)

    def run_check(self, *args):
        env = dict(os.environ)
        env.pop("srcdir", None)
        env.pop("CHECK_LAYERS_OBJS", None)
        r = subprocess.run([CHECK, "--src", self.dir] + list(args), env=env,
                           capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def fails(self, *words, args=()):
        rc, out = self.run_check(*args)
        self.assertEqual(rc, 1, out)
        for w in words:
            self.assertIn(w, out)
        return out

    def test_clean_tree_passes(self):
        self.tree()
        rc, out = self.run_check()
        self.assertEqual((rc, out), (0, ""))

    def test_include_from_above_fails(self):
        self.tree(add={"src/low/base.c": '#include "low/base.h"\n#include "mid/m.h"\n'})
        self.fails("src/low/base.c:2: includes src/mid/m.h, a layer above its own")

    def test_include_from_a_peer_fails(self):
        self.tree(add={"src/side/s.c": '#include "side/s.h"\n#include "mid/m.h"\n'})
        self.fails("src/side/s.c:2: includes src/mid/m.h, a layer beside its own")

    def test_a_header_counts_too(self):
        self.tree(add={"src/low/secret.h": '#include "cli/c.h"\n', "src/cli/c.h": "\n"})
        self.fails("src/low/secret.h:1: includes src/cli/c.h, a layer above its own")

    def test_never_line_forbids_a_downward_include(self):
        self.tree(add={"src/mid/m.c": '#include "mid/m.h"\n#include "low/secret.h"\n'})
        self.fails("src/mid/m.c:2: includes src/low/secret.h, which a never line forbids")

    def test_known_exception_excuses_and_must_still_occur(self):
        bad = {"src/low/secret.c": '#include "low/secret.h"\n#include "mid/m.h"\n'}
        self.tree("known  src/low/* -> src/mid/m.*   being fixed", add=bad)
        rc, out = self.run_check()
        self.assertEqual((rc, out), (0, ""))
        self.tree("known  src/low/* -> src/mid/m.*   being fixed")
        self.fails("known exception no longer occurs", "src/low/* -> src/mid/m.*")

    def test_two_modules_including_each_other_fail(self):
        self.tree(add={"src/low/base.c": '#include "low/base.h"\n#include "low/secret.h"\n',
                       "src/low/secret.c": '#include "low/secret.h"\n#include "low/base.h"\n'})
        self.fails("include cycle: src/low/base <-> src/low/secret")

    def test_a_longer_ring_fails(self):
        self.tree(add={"src/low/a.c": '#include "low/b.h"\n', "src/low/a.h": "\n",
                       "src/low/b.c": '#include "low/c.h"\n', "src/low/b.h": "\n",
                       "src/low/c.c": '#include "low/a.h"\n', "src/low/c.h": "\n"})
        self.fails("include cycle: src/low/a <-> src/low/b <-> src/low/c")

    def test_known_cycle_excuses_and_must_still_occur(self):
        ring = {"src/low/base.c": '#include "low/base.h"\n#include "low/secret.h"\n',
                "src/low/secret.c": '#include "low/secret.h"\n#include "low/base.h"\n'}
        self.tree("known  src/low/base.c <-> src/low/secret.c", add=ring)
        rc, out = self.run_check()
        self.assertEqual((rc, out), (0, ""))
        self.tree("known  src/low/base.c <-> src/low/secret.c")
        self.fails("known cycle no longer occurs")

    def test_a_seam_includes_only_common(self):
        self.tree(add={"src/top/seam.h": '#include "mid/m.h"\n'})
        self.fails("src/top/seam.h:1: a seam includes src/mid/m.h")

    def test_a_directory_in_no_layer_fails(self):
        self.tree(add={"src/new/n.c": "int n;\n"})
        self.fails("src/new/: in no layer")

    def test_no_block_is_an_error(self):
        self.tree()
        with open(os.path.join(self.dir, "doc", "architecture.md"), "w") as f:
            f.write("# no layers here\n")
        rc, out = self.run_check()
        self.assertEqual(rc, 99, out)

    @unittest.skipUnless(shutil.which("cc") and shutil.which("nm"), "no cc or nm")
    def test_a_call_upward_without_an_include_fails(self):
        # low/base.c declares mid's function itself: no include shows it,
        # the objects' symbols do.
        self.tree(add={"src/low/base.c":
                       '#include "low/base.h"\nint m(void);\nint base(void) { return m(); }\n'})
        rc, out = self.run_check()
        self.assertEqual((rc, out), (0, ""))
        objs = os.path.join(self.dir, "build")
        for name in ("src/low/base.c", "src/mid/m.c", "src/low/secret.c"):
            obj = os.path.join(objs, name[:-2] + ".o")
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            subprocess.run(["cc", "-c", "-I", os.path.join(self.dir, "src"), "-o", obj,
                            os.path.join(self.dir, name)], check=True)
        out = self.fails("src/low/base.c: uses symbols of src/mid/m.c, a layer above its own",
                         "call cycle: src/low/base <-> src/mid/m", args=("--objs", objs))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
