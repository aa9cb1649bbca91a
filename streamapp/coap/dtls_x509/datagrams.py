"""Cut what OpenSSL wrote into its memory BIO into datagrams of at most one MTU.

A memory BIO is a byte stream: after a flight (say ServerHello-answering Certificate,
ClientKeyExchange, CertificateVerify, ChangeCipherSpec, Finished) it holds several DTLS records
back to back. DTLS allows several records in one datagram, but not a record split over two, and
a datagram above the path MTU gets IP-fragmented (or dropped). OpenSSL already fragments
handshake messages to fit ``set_ciphertext_mtu``; here whole records are packed greedily into
datagrams no larger than the MTU. Every DTLS record starts with a 13-byte header whose last two
bytes are the length of what follows (RFC 6347 section 4.1).
"""

from __future__ import annotations

__all__ = ["RECORD_HEADER", "pack_records"]

RECORD_HEADER = 13


def pack_records(data: bytes, mtu: int) -> list[bytes]:
    """``data`` (whole DTLS records) as datagrams of at most ``mtu`` bytes, records kept whole and in order.

    A single record longer than ``mtu`` gets a datagram of its own (it cannot be split). Bytes
    that do not form a whole record (never written by OpenSSL) raise :class:`ValueError`.
    """
    datagrams: list[bytes] = []
    start = 0  # first byte of the datagram being filled
    end = 0  # end of the last whole record in it
    size = len(data)
    while end < size:
        if size - end < RECORD_HEADER:
            raise ValueError(f"{size - end} bytes after the last DTLS record are not a record header")
        record_end = end + RECORD_HEADER + int.from_bytes(data[end + 11 : end + 13], "big")
        if record_end > size:
            raise ValueError(f"a DTLS record of {record_end - end} bytes is cut off after {size - end}")
        if record_end - start > mtu and end > start:
            datagrams.append(data[start:end])
            start = end
        end = record_end
    if end > start:
        datagrams.append(data[start:end])
    return datagrams
