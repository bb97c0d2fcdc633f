"""hmcsim STOMP frame codec: round trips, arbitrary splits, and rejects (no sockets needed)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmcsim.stomp_frames import HEARTBEAT, FrameError, FrameParser, encode_frame

header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(headers=st.dictionaries(header_text.filter(bool), header_text, max_size=5),
       body=st.binary(max_size=200), cut=st.integers(min_value=1, max_value=50), beats=st.integers(0, 3))
def test_round_trip_with_arbitrary_splits(headers, body, cut, beats):
    data = b"\n" * beats + encode_frame("MESSAGE", headers, body) + b"\r\n"
    parser = FrameParser()
    items = []
    for start in range(0, len(data), cut):
        items.extend(parser.feed(data[start:start + cut]))
    frames = [i for i in items if i is not HEARTBEAT]
    assert len(frames) == 1 and items.count(HEARTBEAT) == beats + 1
    frame = frames[0]
    assert frame.command == "MESSAGE" and frame.body == body
    expected = dict(headers)
    if body:
        expected["content-length"] = str(len(body))
    assert frame.headers == expected


def test_connect_headers_are_not_unescaped():
    frame = FrameParser().feed(b"CONNECT\nlogin:a\\cb\npasscode:x\n\n\x00")[0]
    assert frame.headers["login"] == "a\\cb"


def test_first_repeated_header_wins():
    frame = FrameParser().feed(b"MESSAGE\nfoo:1\nfoo:2\n\n\x00")[0]
    assert frame.headers["foo"] == "1"


@pytest.mark.parametrize("data, problem", [
    (b"MESSAGE\nfoo:\\x\n\nbody\x00", "undefined escape"),
    (b"lower\n\n\x00", "not a STOMP command"),
    (b"MESSAGE\nnocolon\n\n\x00", "without ':'"),
    (b"MESSAGE\ncontent-length:abc\n\n\x00", "not a number"),
    (b"MESSAGE\ncontent-length:2\n\nabc\x00", "not followed by NUL"),
    (b"\rX", "CR not followed by LF"),
])
def test_rejects_malformed_frames(data, problem):
    with pytest.raises(FrameError, match=problem):
        FrameParser().feed(data)


def test_oversized_headers_are_rejected():
    with pytest.raises(FrameError, match="headers longer"):
        FrameParser().feed(b"MESSAGE\n" + b"a:b\n" * 20000)
