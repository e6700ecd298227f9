"""Checks of a delimited text file before pandas parses it: its encoding and its shape.

pandas reports a byte that is not valid in the file's encoding at the block it was decoding, and its
chunked CSV reader shifts, cuts or drops fields of a record longer than the header without a word. These
checks name the file's real line instead: :func:`locate_decoding_error` decodes line by line, and
:func:`check_field_counts` makes one pass of Python's ``csv`` module over the file. No message quotes more
of a file than the value at fault.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from omnimaint.errors import ConfigError, DatasetError


def check_encoding(name: str) -> str:
    """Return ``name`` if it names a text encoding Python knows (``utf-8``, ``latin-1``, ``cp1252`` ...).

    Raises:
        ConfigError: for an unknown name or a codec that is not a text encoding (``base64``).
    """
    try:
        text = codecs.getincrementaldecoder(name)().decode(b"", final=True)
    except (LookupError, ValueError, TypeError):
        text = None
    if not isinstance(text, str):
        raise ConfigError(
            f"unknown text encoding {name!r}; give a Python codec name such as 'utf-8', 'latin-1' or 'cp1252'"
        )
    return name


def locate_decoding_error(path: Path, encoding: str) -> str | None:
    """Where ``path`` first stops being valid ``encoding``, e.g. ``'line 3: byte e9 at character 5 is not ...'``.

    Decodes the file line by line (byte by byte only inside the line at fault), so the line is the file's
    real line whatever block a reader was decoding when it failed. ``None`` if the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    line, column = 1, 0  # column: characters decoded so far on the current line
    with path.open("rb") as handle:
        for piece in handle:
            state = decoder.getstate()
            try:
                text = decoder.decode(piece)
            except UnicodeDecodeError:
                decoder.setstate(state)
                for offset in range(len(piece)):
                    try:
                        text = decoder.decode(piece[offset : offset + 1])
                    except UnicodeDecodeError as exc:
                        bad = exc.object[exc.start : exc.end].hex(" ")
                        return (
                            f"line {line}: byte(s) {bad} at character {column + 1} are not valid {encoding} "
                            f"({exc.reason})"
                        )
                    line, column = _advance(line, column, text)
                return f"line {line} is not valid {encoding}"
            line, column = _advance(line, column, text)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return f"line {line}: the file ends inside a {encoding} character (truncated file?)"
    return None


def _advance(line: int, column: int, text: str) -> tuple[int, int]:
    newlines = text.count("\n")
    if newlines:
        return line + newlines, len(text) - text.rfind("\n") - 1
    return line, column + len(text)


def decoding_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> DatasetError:
    """The error for a file that a reader failed to decode: its real line and bytes, and what to do."""
    try:
        place = locate_decoding_error(path, encoding)
    except OSError:
        place = None
    what = place or f"not valid {encoding} ({exc.reason})"
    return DatasetError(f"{path}: {what}; give the file's real encoding with --encoding (e.g. latin-1, cp1252)")


_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def malformed_csv(path: Path, exc: Exception, what: str = "malformed CSV") -> DatasetError:
    """A pandas parser error as a one-line reason with the file's line (never echoing file content)."""
    message = one_line_reason(exc)
    if match := _FIELD_COUNT.search(message):
        expected, line, found = match.groups()
        return DatasetError(f"{path}: line {line}: expected {expected} fields (as in the header), found {found}")
    if match := _OPEN_QUOTE.search(message):
        return DatasetError(
            f"{path}: line {int(match.group(1)) + 1}: a quoted field is never closed (truncated or damaged file?)"
        )
    return DatasetError(f"{path}: {what}: {message}")


def check_field_counts(path: Path, fields: int, *, encoding: str, delimiter: str) -> None:
    """Raise at the first record with more (non-empty) fields than the header, a NUL byte, or a cut-off end.

    pandas' chunked reader drops extra fields silently in some positions and, when the first record is one
    field longer, shifts every column by one; a damaged or misaligned file must stop the import instead.
    Trailing empty fields (a delimiter at the end of each line) are accepted, and so are short records
    (their missing fields are empty), except a short last line without a final line break: a file cut off
    in the middle of a value. One pass of Python's ``csv`` module: about 0.6 s per million short records,
    half of what pandas takes to parse them.
    """
    lines = _CheckedLines(path)
    record: list[str] = []
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(lines.of(handle), delimiter=delimiter)
            next(reader, None)  # the header
            for record in reader:
                if len(record) > fields and any(field.strip() for field in record[fields:]):
                    raise DatasetError(
                        f"{path}: line {reader.line_num}: {len(record)} fields, but the header has {fields} "
                        "(a delimiter inside an unquoted value, or a damaged line?)"
                    )
    except UnicodeDecodeError as exc:
        raise decoding_error(path, encoding, exc) from exc
    except csv.Error as exc:
        raise DatasetError(f"{path}: line {lines.number}: malformed CSV ({one_line_reason(exc)})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from exc
    if lines.number > 1 and 0 < len(record) < fields and not lines.last.endswith(("\n", "\r")):
        raise DatasetError(
            f"{path}: line {lines.number}: {len(record)} of {fields} fields and no line break at the end "
            "(the file is cut off: truncated copy or download?)"
        )


class _CheckedLines:
    """Lines of a text file as the CSV reader takes them: counted, the last one kept, NUL characters refused."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.number = 0
        self.last = ""

    def of(self, handle: Iterable[str]) -> Iterator[str]:
        for line in handle:
            self.number += 1
            self.last = line
            if "\x00" in line:
                raise DatasetError(
                    f"{self.path}: line {self.number}: holds a NUL byte (a damaged file, or another --encoding?)"
                )
            yield line


def one_line_reason(exc: BaseException) -> str:
    """An exception's message on one line, cut to 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"
