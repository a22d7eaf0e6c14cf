"""The offline dedup's line reader gives what the reference parse (orjson) gives, line by line."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import orjson
import pytest

from crawler.dedup.jsonl import (
    ADDED,
    HAS_HASH,
    OWN_CLUSTER,
    PLAIN,
    is_utf8,
    load_line,
    origin_fields,
    parse_lines,
    parse_reference,
    text_of,
)

_WS = b" \t\r\n"


def _expected(data: bytes) -> dict[str, Any]:
    """What the reference parse makes of ``data``, line by line."""
    out: dict[str, Any] = {"errors": [], "texts": [], "ids": [], "urls": [], "hashes": []}
    out.update(clusters=[], flags=[], spans=[])
    pos = 0
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for no, raw in enumerate(lines, 1):
        start, pos = pos, pos + len(raw) + 1
        body = raw.strip(_WS)
        if not body:
            continue
        rec, reason = parse_reference(body)
        if rec is None:
            out["errors"].append((no, reason))
            continue
        lead = len(raw) - len(raw.lstrip(_WS))
        cl = rec.get("cluster")
        own = isinstance(cl, str) and bool(cl)
        ch = rec.get("content_hash")
        out["spans"].append((start + lead, start + lead + len(body)))
        out["texts"].append(rec["text"])
        out["ids"].append(rec["id"])
        out["urls"].append(rec["url"])
        out["hashes"].append(ch or None)
        out["clusters"].append(cl if own else None)
        out["flags"].append(
            (HAS_HASH if ch else 0)
            | (0 if any(k in rec for k in ADDED) else PLAIN)
            | (OWN_CLUSTER if own else 0)
        )
    return out


def _check_same(data: bytes) -> None:
    parsed = parse_lines(data)
    want = _expected(data)
    assert parsed.lines == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert parsed.errors == want["errors"]
    assert list(zip(parsed.starts.tolist(), parsed.ends.tolist(), strict=True)) == want["spans"]
    assert parsed.ids == want["ids"]
    assert parsed.urls == want["urls"]
    assert parsed.hashes == want["hashes"]
    assert parsed.clusters == want["clusters"]
    assert parsed.flags.tolist() == want["flags"]
    assert [text_of(parsed, i) for i in range(len(parsed.ids))] == want["texts"]
    for i, text in enumerate(want["texts"]):  # the code points the signature kernel reads
        if i not in parsed.texts:
            codes = parsed.codes[parsed.code_offs[i] : parsed.code_offs[i + 1]]
            assert codes.tolist() == [ord(c) for c in text]


def _line(text: str, **extra: Any) -> bytes:
    rec = {"id": "a1", "url": "http://x.cn/1.html", "title": "标题", "text": text, **extra}
    return json.dumps(rec, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    "text",
    [
        "平安建设\n第二段\t制表",
        '引号"与反斜杠\\和斜杠/',
        "控制符\b\f\r\x01\x1f",
        "é ü ñ",
        "𠀀𪚥😀 四字节",
        "",
        "ASCII only",
    ],
)
def test_text_literals_decode_as_orjson_decodes_them(text: str) -> None:
    lines = [_line(text), json.dumps({"id": "b", "url": "u", "text": text}).encode()]
    _check_same(b"\n".join(lines) + b"\n")


def test_escapes_orjson_accepts_in_any_spelling() -> None:
    base = b'{"id": "a", "url": "u", "text": "%s"}'
    for literal in (
        b"\\u4e2d\\u6587",
        b"\\u4E2D\\u6587",  # upper-case hex digits
        b"\\ud83d\\ude00",  # a surrogate pair
        b'\\/\\b\\f\\n\\r\\t\\"\\\\',
        b"\\u0000",
        b"x\\u00e9y",
    ):
        _check_same(base % literal + b"\n")


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": "a", "url": "u", "text": "\\ud800"}',  # a lone high surrogate
        b'{"id": "a", "url": "u", "text": "\\udc00x"}',  # a lone low surrogate
        b'{"id": "a", "url": "u", "text": "\\ud800\\u0041"}',  # a high one, then no low one
        b'{"id": "a", "url": "u", "text": "\\x"}',  # an unknown escape
        b'{"id": "a", "url": "u", "text": "\\u12"}',  # a short \\u
        b'{"id": "a", "url": "u", "text": "\\u12g4"}',
        b'{"id": "a", "url": "u", "text": "tab\tinside"}',  # a raw control character
        b'{"id": "a", "url": "u", "text": "\xff"}',  # not UTF-8
        b'{"id": "a", "url": "u", "text": "ok", "title": "\xc0\x80"}',  # overlong, a skipped field
        b'{"id": "a", "url": "u", "text": "\xe0\x80\x80"}',  # overlong
        b'{"id": "a", "url": "u", "text": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"id": "a", "url": "u", "text": "\xf4\x90\x80\x80"}',  # above U+10FFFF
        b'{"id": "a", "url": "u", "text": "\xe4\xb8"}',  # a cut sequence
        b'{"id": "a", "url": "u", "text": "t", "title": "\\ud800"}',
        b"\xef\xbb\xbf" + b'{"id": "a", "url": "u", "text": "bom"}',
        b'{"id": "a", "url": "u", "text": "t"} trailing',
        b'{"id": "a", "url": "u", "text": "t", "x": %s}' % (b"[" * 1100 + b"]" * 1100),
        b'{"id": "a", "url": "u", "text": 5}',
        b'{"id": 7, "url": "u", "text": "t"}',
        b'{"url": "u", "text": "t"}',
        b'{"id": "a", "url": "u", "text": "t", "content_hash": 12}',
        b"[1, 2]",
        b'"just a string"',
        b"{not json",
    ],
)
def test_lines_the_reference_refuses_are_refused_with_its_message(line: bytes) -> None:
    good = _line("前后的好记录")
    _check_same(b"\n".join([good, line, good]) + b"\n")
    assert len(parse_lines(line + b"\n").errors) == 1


@pytest.mark.parametrize(
    "line",
    [
        b'  {"id": "a", "url": "u", "text": "blanks around"}  \r',
        b'{"id": "a", "id": "b", "url": "u", "text": "the last of a repeated key"}',
        b'{"id": "a", "url": "u", "text": "t", "content_hash": null, "cluster": 3}',
        b'{"id": "a", "url": "u", "text": "t", "content_hash": "", "cluster": ""}',
        b'{"id": "a", "url": "u", "text": "t", "cluster": "c9", "match": null}',
        b'{"id": "a", "url": "u", "text": "t", "similarity": 0.9}',
        b'{"id": "a", "url": "u", "text": "t", "n": 123456789012345678901234567890}',
        b'{"id": "a", "url": "u", "text": "e100 file123", "n": 1e308, "m": 1e-999}',
        b'{"id": "a", "url": "u", "text": "t", "x": %s}' % (b"[" * 900 + b"]" * 900),
        b'{"id":"a","url":"u","text":"compact","nested":{"text":"not this one"}}',
        b'{"nested": {"text": 1}, "id": "a", "url": "u", "text": "the top-level text"}',
    ],
)
def test_records_the_reference_takes_are_taken_alike(line: bytes) -> None:
    _check_same(line + b"\n\n   \n" + _line("后面一条"))  # blank lines, no final newline


def test_random_records_and_corrupted_copies_read_as_the_reference_reads_them() -> None:
    rng = random.Random(20261201)
    alphabet = (
        [chr(c) for c in range(0x4E00, 0x4E00 + 300)]
        + list("abcXYZ019 ,.;:!?()[]{}<>")
        + ['"', "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x00", "\x1f", "\x7f"]
        + ["é", "ß", "€", "\u3000", "\ufeff", "\u2028", "😀", "𠀀", "\U0010fffd"]
    )
    lines = []
    for i in range(600):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        rec: dict[str, Any] = {"id": f"r{i}", "url": f"http://x.cn/{i}", "text": text}
        if rng.random() < 0.3:
            rec["content_hash"] = rng.choice([None, "", "abc", "f" * 40])
        if rng.random() < 0.2:
            rec["cluster"] = rng.choice(["", "c1", None, ["list"]])
        if rng.random() < 0.1:
            rec[rng.choice(ADDED)] = "x"
        rec["title"] = "".join(rng.choice(alphabet) for _ in range(5))
        keys = list(rec)
        rng.shuffle(keys)
        line = json.dumps({k: rec[k] for k in keys}, ensure_ascii=rng.random() < 0.3).encode()
        if rng.random() < 0.15:  # a corrupted copy: one byte replaced
            b = bytearray(line)
            b[rng.randrange(len(b))] = rng.randrange(256)
            line = bytes(b).replace(b"\n", b" ")
        lines.append(line)
    _check_same(b"\n".join(lines) + b"\n")


def test_utf8_check_agrees_with_pythons_codec() -> None:
    rng = random.Random(7)
    pieces = [b"a", b"\n", "中".encode(), "é".encode(), "😀".encode(), b"\x80", b"\xbf", b"\xc0"]
    pieces += [b"\xc1", b"\xc2", b"\xe0", b"\xe0\xa0", b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xef"]
    pieces += [b"\xf0", b"\xf0\x90", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5", b"\xff"]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
        try:
            data.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        assert is_utf8(np.frombuffer(data, dtype=np.uint8)) == valid, data


@pytest.mark.parametrize("number", [b"1e999", b"-1.8E+308", b"9" * 400])
def test_a_number_beyond_a_double_in_an_unread_field_is_kept_as_written(number: bytes) -> None:
    line = b'{"id": "a", "url": "u", "text": "t", "cluster": "c", "x": %s}' % number
    assert parse_reference(line)[0] is None  # orjson refuses it, msgspec skips it
    parsed = parse_lines(line)
    assert (parsed.ids, parsed.errors) == (["a"], [])
    rec = load_line(line)
    rec["cluster"] = "d"
    assert orjson.dumps(rec) == line.replace(b": ", b":").replace(b", ", b",").replace(
        b'"c"', b'"d"'
    )
    assert origin_fields(line)["id"] == "a"


def test_origin_fields_read_what_the_origin_rule_needs() -> None:
    line = b'{"id": "a", "url": "u", "text": "t", "site": "s", "source": "\\u65b0", "x": 1e9}'
    assert origin_fields(line) == {
        "id": "a",
        "site": "s",
        "site_name": None,
        "source": "新",
        "published_at": None,
        "published_precision": None,
        "fetched_at": None,
    }
