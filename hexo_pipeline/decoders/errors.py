"""The one error every decoder raises for bytes it cannot turn into data.

Callers (the Dagster assets) catch `DecodeError`, quarantine the file with `code` and `reason`, and
carry on with the partition: an undecodable file must never fail a whole run.
"""

from __future__ import annotations

from typing import Any

# Stable codes, so quarantine reports can group failures without parsing sentences.
CODES = frozenset(
    {
        "unsupported_format",  # not a format we know (sniffing failed)
        "malformed",  # recognised format, but bytes contradict its layout
        "invalid_header",  # a FIT header (or a chained FIT segment header) is not valid
        "truncated",  # the file ends before its declared end
        "no_data",  # structurally valid but carries nothing to decode
        "crc_mismatch",  # only raised when the caller asks for strict CRC checking
        "missing_metadata",  # e.g. a Hexoskin export without a record start time
        "implausible_value",  # a number that is not finite or outside its column's plausible range
        "too_large",  # a declared or decompressed size beyond the decoders' memory bound
    }
)


class DecodeError(ValueError):
    """Undecodable input.

    `reason` is a sentence for humans, `code` one of `CODES`. `partial` optionally carries what could be
    decoded before the failure (e.g. the complete segments of a truncated FIT file); it is always marked
    as partial by the decoder that produced it, so nobody mistakes it for a whole file.
    """

    def __init__(self, reason: str, *, code: str = "malformed", source: str | None = None, partial: Any = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown DecodeError code {code!r}")
        self.reason = reason
        self.code = code
        self.source = source
        self.partial = partial
        super().__init__(f"{source}: {reason}" if source else reason)

    def with_source(self, source: str) -> DecodeError:
        """The same error, naming the file (decoders of bytes do not know the path; callers do)."""
        if self.source:
            return self
        err = DecodeError(self.reason, code=self.code, source=source, partial=self.partial)
        err.__cause__ = self.__cause__
        return err
