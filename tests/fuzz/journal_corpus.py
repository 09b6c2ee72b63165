#!/usr/bin/env python3
"""Writes the seed corpus of journal_fuzzer (tests/fuzz/corpus/journal_fuzzer): segments in the
current record format (src/journal/record.hpp), valid, torn, with gaps, stale and damaged, so
the fuzzer starts from inputs that reach every branch of scan_segment. Run it after a format
change: python3 tests/fuzz/journal_corpus.py"""
import os
import struct

POLY = 0x82F63B78
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def header(epoch, first_seq):
    h = bytearray(b"HSJRNL\r\n" + struct.pack("<II", 1, 0) + struct.pack("<QQ", epoch, first_seq))
    crc = crc32c(bytes(h[16:32]), crc32c(bytes(h[0:12])))
    h[12:16] = struct.pack("<I", mask(crc))
    return bytes(h)


def record(epoch, seq, rtype, payload, batch_first=None):
    if batch_first is None:
        batch_first = seq
    body = struct.pack("<QQIB", epoch, seq, seq - batch_first, rtype) + payload
    return struct.pack("<II", len(payload), mask(crc32c(body))) + body


def put(epoch, seq, item_id, version, text, batch_first=None):
    def varint(v):
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        return bytes(out)
    return record(epoch, seq, 1, varint(item_id) + varint(version) + text, batch_first)


E = 0x0123456789ABCDEF
OTHER = 0x0FEDCBA987654321
r1 = put(E, 1, 1, 1, b'{"id":1,"a":1}')
r2 = put(E, 2, 2, 1, b'{"id":2,"b":[1,2]}', batch_first=2)
r3 = put(E, 3, 1, 2, b'{"id":1,"a":2}', batch_first=2)
r4 = put(E, 4, 2, 2, b'{"id":2}')
seeds = {
    "segment_three_records": header(E, 1) + r1 + r2 + r3,
    "segment_then_zeros": header(E, 1) + r1 + r2 + b"\0" * 200,
    "segment_torn_tail": header(E, 1) + r1 + r2 + r3[:20],
    # A hole inside the last batch (r2 lost, r3 of the same batch kept): a torn write.
    "segment_torn_batch": header(E, 1) + r1 + b"\0" * len(r2) + r3,
    # A hole followed by a later batch: damage.
    "segment_damaged": header(E, 1) + r1 + b"\xff" * len(r2) + r3 + r4,
    "segment_gap": header(E, 1) + r1 + put(E, 3, 1, 2, b'{"id":1}'),
    "segment_stale_record": header(E, 1) + r1 + put(OTHER, 2, 2, 1, b'{"id":2}'),
    "bare_record_epoch0": record(0, 0, 2, b"\x05"),
    "snapshot_with_trailer": header(E, 1) + record(E, 1, 16, b"\x01\x01\x02{}", 1) +
    record(E, 2, 255, struct.pack("<Q", 9), 1),
    "not_a_segment": b"GET / HTTP/1.1\r\n\r\n",
}
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "journal_fuzzer")
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
