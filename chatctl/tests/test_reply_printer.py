"""``chatctl`` prints each delta once, in order, whether frames carry one delta or several
joined ones (``from_seq``..``seq``), and asks to resume when a frame does not follow."""

from __future__ import annotations

from chatctl.stream import ReplyPrinter


def test_joined_and_single_frames_print_once_in_order(capsys):
    printer = ReplyPrinter()
    assert printer.delta(1, "Hel")
    assert printer.delta(4, "lo wor", from_seq=2)  # a joined frame
    assert printer.delta(3, "ignored")  # already printed: a resume overlapping
    assert printer.delta(5, "ld")
    assert capsys.readouterr().out.endswith("Hello world")
    assert printer.seq == 5


def test_a_gap_or_partial_overlap_asks_for_a_resume(capsys):
    printer = ReplyPrinter()
    printer.delta(1, "a")
    assert not printer.delta(3, "c")  # delta 2 missing
    assert not printer.delta(4, "abcd", from_seq=1)  # overlaps what was printed, cannot be split
    assert printer.seq == 1
    assert capsys.readouterr().out.endswith("a")
