#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of the ring-engine fuzzers.

    gen_seeds.py CORPUS_DIR

Each seed is a small, named, meaningful input in the layout documented at
the top of fuzz_chain.c and fuzz_used.c; libFuzzer mutates from there.
Existing files of the same name are overwritten, others are left alone.
"""

import os
import struct
import sys

# --- fuzz_chain -------------------------------------------------------------

F_LOG, F_IOV_LARGE, F_BIG_ENDIAN, F_UNGET = 0x01, 0x02, 0x04, 0x08
D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4

# Guest memory: R0 and R1 are contiguous in guest-physical space but not in
# user space; R2 lies past a hole.  uaddr is an offset into the guest area.
R0 = (0x10000, 0x2000, 0x0000)
R1 = (0x12000, 0x1000, 0x3000)
R2 = (0x20000, 0x0800, 0x2000)
TABLE = [R0, R1, R2]


def gpa_of(off):
    """Guest-physical address of guest-area offset off (inside R0)."""
    return R0[0] + off


class Guest:
    """The guest area as the ring sees it."""

    def __init__(self, num, le=True, desc_off=0, avail_off=None):
        self.num = num
        self.end = '<' if le else '>'
        self.desc_off = desc_off
        self.avail_off = desc_off + 16 * num if avail_off is None \
            else avail_off
        self.mem = bytearray(0x4000)

    def put(self, off, fmt, *vals):
        data = struct.pack(self.end + fmt, *vals)
        self.mem[off:off + len(data)] = data

    def desc(self, i, addr, length, flags=0, nxt=0, table=None):
        base = self.desc_off if table is None else table
        self.put(base + 16 * i, 'QIHH', addr, length, flags, nxt)

    def avail(self, idx, heads, first=0):
        self.put(self.avail_off + 2, 'H', idx & 0xffff)
        for k, head in enumerate(heads):
            slot = (first + k) % self.num
            self.put(self.avail_off + 4 + 2 * slot, 'H', head)

    def content(self):
        return bytes(self.mem).rstrip(b'\0')


def chain_seed(guest, flags=0, iov=15, regions=TABLE, last_avail=0,
               hint=0, written=0, probes=()):
    shift = guest.num.bit_length() - 1
    hdr = struct.pack('<BBBBHHHII', shift, flags, iov, len(regions) - 1,
                      last_avail, guest.desc_off, guest.avail_off, hint,
                      written)
    regs = list(regions) + [(0, 0, 0)] * (4 - len(regions))
    hdr += b''.join(struct.pack('<QQQ', *r) for r in regs)
    probes = list(probes) + [(0, 0, 0, 0)] * (4 - len(probes))
    hdr += b''.join(struct.pack('<BBhI', *p) for p in probes)
    assert len(hdr) == 146
    return hdr + guest.content()


def chain_seeds():
    seeds = {}

    g = Guest(8)
    g.desc(0, 0x10100, 64, D_NEXT, 1)
    g.desc(1, 0x11f80, 0x100, D_WRITE | D_NEXT, 2)    # crosses R0 -> R1
    g.desc(2, 0x20000, 0x10, D_WRITE)
    g.desc(3, 0x10200, 0x20)
    g.avail(2, [0, 3])
    probes = [(0, 4, 16, 0x2800),         # two regions, two iovecs
              (0, 1, 16, 0x2800),         # no room for the second
              (2, 8, 0x7ff, 1),           # a region's last byte
              (1, 4, 0, 0x1001)]          # runs into the hole
    seeds['rw_chain_across_regions'] = chain_seed(g, probes=probes, hint=7)
    seeds['log_partial_write'] = chain_seed(g, F_LOG, written=0x90)

    g = Guest(8, le=False)
    g.desc(0, 0x10100, 64, D_NEXT, 1)
    g.desc(1, 0x11f80, 0x100, D_WRITE | D_NEXT, 2)
    g.desc(2, 0x20000, 0x10, D_WRITE)
    g.desc(3, 0x10200, 0x20)
    g.avail(2, [0, 3])
    seeds['big_endian_unget'] = chain_seed(g, F_BIG_ENDIAN | F_UNGET)

    g = Guest(4)
    g.desc(0, gpa_of(0x100), 48, D_INDIRECT)
    g.desc(0, 0x10100, 16, D_NEXT, 1, table=0x100)
    g.desc(1, 0x11ff0, 0x20, D_WRITE | D_NEXT, 2, table=0x100)
    g.desc(2, 0x20010, 8, D_WRITE, table=0x100)
    g.desc(1, 0x10300, 8, D_NEXT, 2)                  # direct, then
    g.desc(2, gpa_of(0x140), 16, D_INDIRECT)          # an indirect tail
    g.desc(0, 0x20020, 4, D_WRITE, table=0x140)
    g.avail(2, [0, 1])
    seeds['indirect_tables'] = chain_seed(g, F_LOG, written=0x24)

    g = Guest(4)
    g.desc(0, gpa_of(0x100), 16, D_INDIRECT | D_WRITE)
    g.desc(0, 0x10100, 16, 0, table=0x100)
    g.avail(1, [0])
    seeds['indirect_with_write_flag'] = chain_seed(g)

    # A two-entry table whose unused second entry is unmapped: the walk
    # reads only the entries it follows.
    small = (0x30000, 0x20, 0x180)
    g = Guest(4)
    g.desc(0, 0x30010, 32, D_INDIRECT)
    g.desc(0, 0x10100, 8, 0, table=0x190)
    g.avail(1, [0])
    seeds['indirect_tail_unmapped'] = chain_seed(g, regions=TABLE + [small])

    g = Guest(4)
    g.desc(0, 0x10100, 8, D_NEXT, 1)
    g.desc(1, 0x10200, 8, D_NEXT, 0)
    g.avail(1, [0])
    seeds['err_loop'] = chain_seed(g)

    g = Guest(4)
    g.desc(0, 0x11ff0, 0x20, D_NEXT, 1)               # 2 iovecs
    g.desc(1, 0x11ff0, 0x20, D_WRITE)                 # 2 more
    g.avail(1, [0])
    seeds['err_iov_limit'] = chain_seed(g, iov=2)     # iov_max 3

    g = Guest(4)
    g.desc(0, 0x10100, 0x10, D_NEXT, 1)
    g.desc(1, 0x10100, 0xffffffff)
    g.avail(1, [0])
    seeds['err_chain_len'] = chain_seed(g)

    g = Guest(4)
    g.desc(0, 0x20000, 0, D_WRITE)
    g.avail(1, [0])
    seeds['err_zero_len_log'] = chain_seed(g, F_LOG)

    g = Guest(4)
    g.desc(0, 0x10100, 8, D_WRITE | D_NEXT, 1)
    g.desc(1, 0x10200, 8)
    g.avail(1, [0])
    seeds['err_order'] = chain_seed(g)

    g = Guest(4)
    g.desc(0, 0x10100, 8)
    g.desc(1, 0x10200, 8, D_WRITE)
    g.desc(2, 0x13000, 8)                             # the hole
    g.avail(0x0001, [0, 1, 2], first=0xfffe % 4)
    seeds['avail_idx_wraps'] = chain_seed(g, last_avail=0xfffe)

    g = Guest(256, desc_off=0, avail_off=16)
    g.desc(0, 0x10000, 1)
    g.avail(1, [0])
    seeds['ring_256'] = chain_seed(g, F_IOV_LARGE)

    top = (0xfffffffffffff000, 0x1000, 0x3800)
    g = Guest(4)
    g.desc(0, 0xffffffffffffff00, 0x100)              # ends at 2^64
    g.desc(1, 0xffffffffffffff01, 0x100)              # wraps
    g.avail(2, [0, 1])
    seeds['gpa_top_and_wrap'] = chain_seed(g, regions=TABLE + [top],
                                           probes=[(3, 2, 0, 0x1000)])

    g = Guest(4)
    g.desc(0, 0x10100, 8)
    g.avail(1, [0])
    seeds['table_overlap'] = chain_seed(
        g, regions=[R0, (0x11fff, 0x10, 0x3000)])
    seeds['table_wrap'] = chain_seed(
        g, regions=[R0, (0xfffffffffffffff0, 0x20, 0x3000)])
    return seeds


# --- fuzz_used --------------------------------------------------------------

U_EVENT_IDX, U_NOTIFY_ON_EMPTY, U_LOG_USED, U_BIG_ENDIAN = 1, 2, 4, 8
(ADD_USED, SIGNAL, USED_EVENT, AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, GET_CHAIN,
 DISABLE, ENABLE, START, LOG_TOGGLE) = range(11)


def ops(*steps):
    """Encode steps: an opcode alone, or (opcode, argument...)."""
    out = b''
    for s in steps:
        op, args = (s, ()) if isinstance(s, int) else (s[0], s[1:])
        out += bytes([op])
        if op in (ADD_USED, USED_EVENT, AVAIL_FLAGS, AVAIL_IDX, START):
            out += struct.pack('<H', args[0] & 0xffff)
        elif op == AVAIL_RING:
            out += bytes(args)
    return out


def used_seed(num, flags, steps, used_off=0x400, avail_off=0x100,
              used_idx=0, last_avail=0, log_gpa=0x8000):
    shift = num.bit_length() - 1
    hdr = struct.pack('<BBHHHHI', shift, flags, used_off, avail_off,
                      used_idx, last_avail, log_gpa)
    assert len(hdr) == 14
    return hdr + ops(*steps)


def used_seeds():
    seeds = {}
    seeds['event_idx_window'] = used_seed(8, U_EVENT_IDX, [
        (ADD_USED, 1), SIGNAL, (USED_EVENT, 0), (ADD_USED, 1), SIGNAL,
        (ADD_USED, 2), SIGNAL, (USED_EVENT, 3), (ADD_USED, 2), SIGNAL,
        (ADD_USED, 2), SIGNAL, (USED_EVENT, 0xffff), (ADD_USED, 8), SIGNAL])
    seeds['no_interrupt_flag'] = used_seed(4, 0, [
        (AVAIL_FLAGS, 1), (ADD_USED, 1), SIGNAL, (AVAIL_FLAGS, 0),
        (ADD_USED, 4), SIGNAL, (AVAIL_FLAGS, 0xfffe), SIGNAL])
    seeds['notify_on_empty'] = used_seed(4, U_NOTIFY_ON_EMPTY | U_EVENT_IDX, [
        (AVAIL_IDX, 2), (AVAIL_RING, 1, 3), GET_CHAIN, (ADD_USED, 1), SIGNAL,
        (USED_EVENT, 5), GET_CHAIN, GET_CHAIN, (ADD_USED, 1), SIGNAL])
    seeds['log_used_wrap'] = used_seed(4, U_LOG_USED, [
        (ADD_USED, 3), (ADD_USED, 3), DISABLE, ENABLE, LOG_TOGGLE,
        (ADD_USED, 1), LOG_TOGGLE, (START, 7), (ADD_USED, 2)],
        used_idx=2, log_gpa=0x1ffc)
    seeds['log_used_page_straddle'] = used_seed(4, U_LOG_USED | U_EVENT_IDX, [
        (ADD_USED, 2), DISABLE, ENABLE, (ADD_USED, 4), (START, 0)],
        used_idx=3, log_gpa=0xff4)
    seeds['used_idx_wraps_2_16'] = used_seed(
        256, U_EVENT_IDX,
        [SIGNAL, (USED_EVENT, 0x8000)] + [(ADD_USED, 256)] * 255 +
        [(ADD_USED, 255), SIGNAL, (USED_EVENT, 0)] + [(ADD_USED, 256)] * 256 +
        [SIGNAL, (ADD_USED, 1), SIGNAL], used_idx=0xff00)
    seeds['enable_event_idx'] = used_seed(8, U_EVENT_IDX, [
        DISABLE, (AVAIL_IDX, 1), ENABLE, GET_CHAIN, DISABLE, ENABLE,
        (AVAIL_IDX, 3), DISABLE, ENABLE, GET_CHAIN, GET_CHAIN, GET_CHAIN],
        last_avail=0xfffe)
    seeds['enable_flags'] = used_seed(8, 0, [
        DISABLE, DISABLE, (AVAIL_IDX, 1), ENABLE, GET_CHAIN, DISABLE,
        ENABLE, ENABLE, (AVAIL_IDX, 9), DISABLE, ENABLE])
    seeds['used_ring_off_end'] = used_seed(4, U_EVENT_IDX, [
        (ADD_USED, 1)], used_off=0xff8)
    seeds['big_endian'] = used_seed(16, U_BIG_ENDIAN | U_EVENT_IDX, [
        (ADD_USED, 3), SIGNAL, (USED_EVENT, 4), (ADD_USED, 5), SIGNAL,
        DISABLE, (AVAIL_IDX, 2), ENABLE, (START, 0x1234), (ADD_USED, 16),
        SIGNAL])
    seeds['err_avail_idx'] = used_seed(4, 0, [(AVAIL_IDX, 5), GET_CHAIN])
    seeds['log_past_bitmap'] = used_seed(4, U_LOG_USED, [
        (ADD_USED, 1)], log_gpa=0x1ffffc)
    return seeds


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for target, seeds in (('fuzz_chain', chain_seeds()),
                          ('fuzz_used', used_seeds())):
        d = os.path.join(sys.argv[1], target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
