"""goparked/text.py: the one place values become words. Expectations are
written out by hand here (Go's %q escapes, the engine's --by age bucket
names from native/src/group.c), never produced by goparked."""

import pytest

from goparked import text


def test_target_str_escapes_what_a_terminal_would_act_on():
    assert text.target_str(None) == "?"
    assert text.target_str("", "-") == "-"
    assert text.target_str("main.worker") == "main.worker"
    assert text.target_str("caf\u00e9 \u4e16") == "caf\u00e9 \u4e16"
    # as Go's strconv.Quote writes them inside the quotes
    assert text.target_str("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert text.target_str("\x1b[2J\x07") == "\\x1b[2J\\a"
    assert text.target_str("\x7f\x9b") == "\\x7f\\u009b"
    assert text.target_str("\x00") == "\\x00"


@pytest.mark.parametrize("ns,want", [
    (None, "?"), (0, "0ns"), (999, "999ns"), (1500, "1µs"),
    (2 * 10**6, "2ms"), (12 * 10**9, "12s"), (60 * 10**9, "1m"),
    (303 * 10**9, "5m3s"), (7500 * 10**9, "2h5m"), (3600 * 10**9, "1h"),
    (100 * 3600 * 10**9, "4d4h"), (-2 * 10**9, "-2s")])
def test_duration(ns, want):
    assert text.duration(ns) == want


def test_ids_and_age_range():
    assert text.ids([1, 2, 3], 8) == "1 2 3"
    assert text.ids([1, 2, 3, 4, 5], 2) == "1 2 ... +3"
    assert text.ids([1, 2], 2, total=10) == "1 2 ... +8"
    assert text.ids([7], 8, word=lambda g: "<%d>" % g) == "<7>"
    assert text.age_range(None, 0, 3) == "-"
    assert text.age_range((60 * 10**9, 60 * 10**9), 3, 3) == "1m"
    assert text.age_range((10**9, 2 * 10**9), 2, 3) == "1s..2s (2/3)"


def test_locations():
    class F:
        func, file, line = "main.f\n", "/src/a/b/c.go", 12
    assert text.frame_location(F) == "b/c.go:12"
    assert text.frame_location(F, full=True) == "/src/a/b/c.go:12"
    assert text.func_location(F) == "main.f\\n  b/c.go:12"
    assert text.frame_location({"func": "f", "file": None, "line": 0}) == "?"


def test_age_buckets_are_the_engines(demo_core):
    """The one Python table equals the engine's --by age buckets: every
    key the engine names is one of ours, and an age falls into the bucket
    the engine gives it."""
    from goparked.model import Filter, Program
    names = [n for _, n in text.age_buckets()] + [text.AGE_UNKNOWN]
    # independent of the engine: the buckets README documents for --by age
    assert names == ["< 1m", "1m-10m", "10m-1h", "1h-1d", "> 1d",
                     "age unknown"]
    assert [b for b, _ in text.age_buckets()] == [
        60 * 10**9, 600 * 10**9, 3600 * 10**9, 86400 * 10**9, None]
    with Program.from_core(demo_core.core, demo_core.exe) as prog:
        with prog.snapshot() as snap:
            grouping = snap.group("age", Filter(include_system=True))
            seen = 0
            for g in grouping:
                assert g.key in names
                for m in g.goroutines():
                    assert names[text.age_bucket(m.age_ns)] == g.key
                    seen += 1
            assert seen == len(snap)


def test_target_str_follows_go_quote_for_any_byte():
    """Go's strconv.Quote rules, written out by hand: a byte outside UTF-8
    (the model decodes with "surrogateescape") is \\xff, a character
    unicode.IsPrint rejects is \\uXXXX or \\UXXXXXXXX, DEL is \\x7f."""
    raw = b"ok\xff\xfe\xc3(" .decode("utf-8", "surrogateescape")
    assert text.target_str(raw) == "ok\\xff\\xfe\\xc3("
    assert text.target_str("a\u0085b\u00a0c\u202ed\u2028") == \
        "a\\u0085b\\u00a0c\\u202ed\\u2028"
    assert text.target_str("\U000e0001x") == "\\U000e0001x"
    assert text.target_str("\x7f\v\f\b") == "\\x7f\\v\\f\\b"
    # quotes and backslashes stay in a name; quote() escapes them
    assert text.target_str('f["a\\b"]') == 'f["a\\b"]'
    assert text.quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert text.quote("") == '""'


def test_long_strings_are_cut_with_their_length():
    assert text.target_str("x" * text.MAX_SHOWN) == "x" * text.MAX_SHOWN
    s = "0123456789" * 10000
    assert text.target_str(s) == s[:1024] + "...(100000 bytes)"
    assert text.quote(s) == '"%s"...(100000 bytes)' % s[:1024]
    # cut on a character, counted in the target's bytes
    assert text.target_str("\u00e9" * 600) == "\u00e9" * 512 + "...(1200 bytes)"
    # a string the engine kept only the start of says its real length
    from goparked.model import target_string
    cut = target_string(b"abc", 5000000)
    assert cut.full_len == 5000000
    assert text.target_str(cut) == "abc...(5000000 bytes)"
    assert text.byte_length(cut) == 5000000


def test_labels_text_quotes_as_the_runtime_traceback():
    """Bare when only [A-Za-z0-9./_] (runtime/traceback.go, Go 1.27),
    else Go-quoted; sorted by key bytes; each cut on its own."""
    assert text.labels_text({}) == "(no labels)"
    assert text.labels_text({"worker": "a/b.c_1", "k": "two words"}) == \
        'k="two words" worker=a/b.c_1'
    assert text.labels_text({"x\ny": "", "a=b": "v"}) == \
        '"a=b"=v "x\\ny"=""'
    long = {"a": "1" * 5000, "b": "2"}
    assert text.labels_text(long) == \
        "a=" + "1" * 1024 + "...(5000 bytes) b=2"
