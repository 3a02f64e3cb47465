#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of the ring-engine, blk-parser and net-header
fuzzers.

    gen_seeds.py CORPUS_DIR

Each seed is a small, named, meaningful input in the layout documented at
the top of fuzz_chain.c, fuzz_used.c, fuzz_blk.c and fuzz_net.c; libFuzzer
mutates from there.
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


# --- fuzz_blk ---------------------------------------------------------------

G_RO, G_DISCARD, G_WZ, G_BIG_ENDIAN = 0x01, 0x02, 0x04, 0x08
G_PAD_OUT, G_PAD_IN = 0x40, 0x80
L_U8, L_U16, L_SECTORS, L_U32 = range(4)
P_NEXT, P_AT, P_BEFORE = 0, 2, 3
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
T_SECURE_ERASE, T_BARRIER = 14, 0x80000000
WZ_UNMAP = 1
IOV_MAX, SEG_MAX, DWZ_SECTORS = 136, 128, 0x400000
BLK_ARENA = 0x4000


def at(length, off):
    """An iovec of length bytes at arena offset off."""
    return (length, P_AT, off)


def before(length, gap):
    """An iovec of length bytes starting gap (1..256) bytes before the
    arena."""
    return (length, P_BEFORE, gap)


def blk_iov(spec):
    """Encode one iovec: a length (packed in the arena) or at()/before()."""
    length, place, arg = (spec, P_NEXT, None) if isinstance(spec, int) \
        else spec
    if length < 0x100:
        cls, enc = L_U8, struct.pack('<B', length)
    elif length < 0x10000:
        cls, enc = L_U16, struct.pack('<H', length)
    elif length % 512 == 0 and length // 512 < 0x10000:
        cls, enc = L_SECTORS, struct.pack('<H', length // 512)
    else:
        cls, enc = L_U32, struct.pack('<I', length)
    if place == P_AT:
        enc += struct.pack('<H', arg)
    elif place == P_BEFORE:
        enc += struct.pack('<B', arg - 1)
    return bytes([cls | place << 2]) + enc


def blk_seed(out, inn, content=b'', cap=2048, geom=0, blk_shift=0):
    """out, inn: iovec specs; content: the readable bytes (the arena from
    offset 0, where packed readable iovecs lie in order)."""
    assert len(out) + len(inn) <= IOV_MAX + 4
    hdr = struct.pack('<BQBB', geom | blk_shift << 4, cap, len(out),
                      len(inn))
    assert len(hdr) == 11
    return hdr + b''.join(blk_iov(v) for v in list(out) + list(inn)) + \
        content.rstrip(b'\0')


def bhdr(t, sector=0, le=True, ioprio=0):
    return struct.pack('<IIQ' if le else '>IIQ', t, ioprio, sector)


def dwz(sector, num, flags=0):
    return struct.pack('<QII', sector, num, flags)


def blk_seeds():
    seeds = {}
    dz = G_DISCARD | G_WZ

    # IN: data, then the status byte.
    seeds['in_ok'] = blk_seed([16], [4096, 1], bhdr(T_IN, 8))
    seeds['in_split_header'] = blk_seed([5, 0, 11], [1537], bhdr(T_IN, 2))
    seeds['in_big_endian'] = blk_seed([16], [512, 1, 0],
                                      bhdr(T_IN, 7, le=False),
                                      geom=G_BIG_ENDIAN)
    seeds['in_4k_blocks'] = blk_seed([16], [4096, 4096, 1], bhdr(T_IN, 16),
                                     blk_shift=3)
    seeds['in_empty_at_capacity'] = blk_seed([16], [1], bhdr(T_IN, 2048))
    seeds['in_unaligned_len'] = blk_seed([16], [100, 1], bhdr(T_IN))
    seeds['in_unaligned_sector'] = blk_seed([16], [4096, 1], bhdr(T_IN, 1),
                                            blk_shift=3)
    seeds['in_past_capacity'] = blk_seed([16], [1024, 1], bhdr(T_IN, 2047))
    seeds['in_sector_wraps'] = blk_seed([16], [1024, 1],
                                        bhdr(T_IN, 2**64 - 1),
                                        cap=2**64 - 2)
    seeds['in_huge'] = blk_seed([16], [0xfffffe00, 1], bhdr(T_IN, 0),
                                cap=2**40)
    seeds['in_padded'] = blk_seed([16], [0, 1000], bhdr(T_IN, 8),
                                  geom=G_PAD_IN, blk_shift=1)
    seeds['in_data_after_header'] = blk_seed([17], [513], bhdr(T_IN))
    seeds['in_seg_max'] = blk_seed([16], [512] * SEG_MAX + [1], bhdr(T_IN))
    seeds['in_seg_max_plus'] = blk_seed([16], [512] * (SEG_MAX + 1) + [1],
                                        bhdr(T_IN))
    seeds['in_seg_max_status_in_data'] = blk_seed(
        [16], [0] * 4 + [512] * (SEG_MAX - 1) + [513], bhdr(T_IN))
    # OUT: the data after the header is described, never read.
    seeds['out_ok'] = blk_seed([16, 1024], [1], bhdr(T_OUT, 4))
    seeds['out_data_in_header_iov'] = blk_seed([528], [1], bhdr(T_OUT, 4))
    seeds['out_data_unmapped'] = blk_seed([16, at(0x20000, 0xf000)], [1],
                                          bhdr(T_OUT, 0))
    seeds['out_ro'] = blk_seed([16, 512], [1], bhdr(T_OUT), geom=G_RO)
    seeds['out_status_too_big'] = blk_seed([16, 512], [2], bhdr(T_OUT))
    seeds['out_seg_max_plus'] = blk_seed([16] + [512] * (SEG_MAX + 1), [1],
                                         bhdr(T_OUT))
    seeds['out_past_capacity'] = blk_seed([16, 1024], [1],
                                          bhdr(T_OUT, 2047))
    # FLUSH and GET_ID.
    seeds['flush_ok'] = blk_seed([16], [0, 1], bhdr(T_FLUSH))
    seeds['flush_data'] = blk_seed([16, 512], [1], bhdr(T_FLUSH))
    seeds['flush_status_too_big'] = blk_seed([16], [2], bhdr(T_FLUSH))
    seeds['get_id_ok'] = blk_seed([16], [20, 1], bhdr(T_GET_ID))
    seeds['get_id_short'] = blk_seed([16], [8, 1], bhdr(T_GET_ID))
    seeds['get_id_long'] = blk_seed([16], [64, 0, 1], bhdr(T_GET_ID))
    seeds['get_id_data'] = blk_seed([16, 4], [21], bhdr(T_GET_ID))
    # DISCARD and WRITE_ZEROES: 16-byte little-endian ranges.
    two = dwz(0, 8) + dwz(64, 8)
    seeds['discard_ok'] = blk_seed([16, 32], [1], bhdr(T_DISCARD) + two,
                                   geom=dz)
    three = two + dwz(1024, 1024)
    seeds['dwz_segments_split'] = blk_seed(
        [5, 30, 1, 0, 13, 15], [1], bhdr(T_DISCARD) + three, geom=dz)
    seeds['dwz_padded'] = blk_seed(
        [5, 30, 1, 0, 13, 5], [1], bhdr(T_DISCARD) + three,
        geom=dz | G_PAD_OUT)
    seeds['discard_big_endian_header'] = blk_seed(
        [24, 8], [1], bhdr(T_DISCARD, le=False) + two,
        geom=dz | G_BIG_ENDIAN)
    seeds['discard_unsupported'] = blk_seed([16, 32], [1],
                                            bhdr(T_DISCARD) + two, geom=G_WZ)
    seeds['discard_ro'] = blk_seed([16, 16], [1], bhdr(T_DISCARD) + two,
                                   geom=dz | G_RO)
    seeds['discard_unmap_flag'] = blk_seed(
        [16, 32], [1], bhdr(T_DISCARD) + dwz(0, 8) + dwz(64, 8, WZ_UNMAP),
        geom=dz)
    seeds['wz_unmap_ok'] = blk_seed(
        [32], [1], bhdr(T_WZ) + dwz(2040, 8, WZ_UNMAP), geom=dz)
    seeds['wz_unsupported'] = blk_seed([32], [1], bhdr(T_WZ) + dwz(0, 8),
                                       geom=G_DISCARD)
    seeds['wz_bad_flags_then_bad_range'] = blk_seed(
        [32], [1], bhdr(T_WZ) + dwz(2**63, 0, 2), geom=dz)
    seeds['dwz_16_segments'] = blk_seed(
        [16 + 16 * 16], [1],
        bhdr(T_WZ) + b''.join(dwz(8 * i, 8) for i in range(16)), geom=dz)
    seeds['dwz_17_segments'] = blk_seed(
        [16 + 16 * 17], [1],
        bhdr(T_WZ) + b''.join(dwz(8 * i, 8) for i in range(17)), geom=dz)
    seeds['dwz_partial_segment'] = blk_seed([16, 24], [1],
                                            bhdr(T_DISCARD) + two, geom=dz)
    seeds['dwz_no_segment'] = blk_seed([16], [1], bhdr(T_DISCARD), geom=dz)
    seeds['dwz_status_too_big'] = blk_seed([16, 16], [0, 3],
                                           bhdr(T_DISCARD) + two, geom=dz)
    seeds['dwz_num_zero'] = blk_seed([32], [1], bhdr(T_WZ) + dwz(0, 0),
                                     geom=dz)
    seeds['dwz_num_too_big'] = blk_seed(
        [32], [1], bhdr(T_DISCARD) + dwz(0, DWZ_SECTORS + 1),
        cap=2**40, geom=dz)
    seeds['dwz_num_max'] = blk_seed(
        [32], [1], bhdr(T_DISCARD) + dwz(2**40 - DWZ_SECTORS, DWZ_SECTORS),
        cap=2**40, geom=dz)
    seeds['dwz_past_capacity'] = blk_seed(
        [32], [1], bhdr(T_DISCARD) + dwz(2040, 16), geom=dz)
    seeds['dwz_unaligned_4k'] = blk_seed(
        [48], [1], bhdr(T_WZ) + dwz(8, 8) + dwz(12, 8), geom=dz, blk_shift=3)
    seeds['dwz_sector_wraps'] = blk_seed(
        [32], [1], bhdr(T_DISCARD) + dwz(2**64 - 8, 16), cap=2**64 - 8,
        geom=dz)
    seeds['dwz_second_segment_unmapped'] = blk_seed(
        [16, 16, before(16, 8)], [1], bhdr(T_DISCARD) + dwz(0, 8), geom=dz)
    seeds['dwz_first_bad_second_unmapped'] = blk_seed(
        [16, 16, before(16, 8)], [1], bhdr(T_DISCARD) + dwz(0, 0), geom=dz)
    # Other types; the legacy barrier bit.
    seeds['unsupported_secure_erase'] = blk_seed([16, 16], [1],
                                                 bhdr(T_SECURE_ERASE) + two)
    seeds['unsupported_barrier'] = blk_seed([16], [512, 1],
                                            bhdr(T_BARRIER | T_IN))
    seeds['unsupported_huge_type'] = blk_seed([16], [1], bhdr(0xfffffffe))
    # Chain-level errors.
    seeds['err_no_status'] = blk_seed([16, 512], [], bhdr(T_OUT))
    seeds['err_status_iovs_empty'] = blk_seed([16], [0, 0], bhdr(T_FLUSH))
    seeds['err_no_status_unmapped_header'] = blk_seed(
        [before(16, 4)], [0], bhdr(T_IN))
    seeds['err_short_header'] = blk_seed([15], [1], bhdr(T_FLUSH))
    seeds['err_short_header_split'] = blk_seed([7, 0, 8], [1], bhdr(T_FLUSH))
    seeds['err_too_many_iovs'] = blk_seed([16], [0] * IOV_MAX + [1],
                                          bhdr(T_FLUSH))
    seeds['err_too_many_iovs_unmapped'] = blk_seed(
        [before(16, 16)], [0] * IOV_MAX + [1], bhdr(T_FLUSH))
    seeds['err_header_before_arena'] = blk_seed([before(16, 7)], [1],
                                                bhdr(T_FLUSH))
    seeds['err_header_past_arena'] = blk_seed(
        [at(16, BLK_ARENA - 8)], [1], bhdr(T_FLUSH))
    seeds['err_header_second_iov_unmapped'] = blk_seed(
        [8, at(8, 0xff00)], [1], bhdr(T_FLUSH))
    seeds['header_aliased'] = blk_seed([8, at(8, 0)], [1],
                                       bhdr(T_FLUSH, ioprio=0))
    seeds['status_outside_arena'] = blk_seed([16], [at(1, 0xfff0)],
                                             bhdr(T_FLUSH))
    return seeds


# --- fuzz_net ---------------------------------------------------------------

N_BIG_ENDIAN = 0x01
N_LEN_U8, N_LEN_U16, N_LEN_U32, N_LEN_U64 = range(4)
F_MRG_RXBUF, F_VNET_HDR, F_VERSION_1 = 1 << 15, 1 << 27, 1 << 32
NEEDS_CSUM = 0x01
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_ECN = 0, 1, 3, 4, 0x80


def net_seed(length, flags=0, gso_type=GSO_NONE, hdr_len=0, gso_size=0,
             csum_start=0, csum_offset=0, features=F_VERSION_1, le=True):
    """A header and the packet length after it, in the smallest length
    encoding that holds it."""
    for enc, fmt in ((N_LEN_U8, 'B'), (N_LEN_U16, 'H'), (N_LEN_U32, 'I'),
                     (N_LEN_U64, 'Q')):
        if length < 1 << (8 * struct.calcsize(fmt)):
            break
    mode = enc << 1 | (0 if le else N_BIG_ENDIAN)
    end = '<' if le else '>'
    return struct.pack('<BQ', mode, features) + \
        struct.pack(end + 'BBHHHH', flags, gso_type, hdr_len, gso_size,
                    csum_start, csum_offset) + \
        struct.pack('<' + fmt, length)


def net_seeds():
    seeds = {}
    tso = dict(flags=NEEDS_CSUM, hdr_len=66, gso_size=1448, csum_start=34,
               csum_offset=16)
    # Header sizes by features: each combination of the three bits.
    seeds['plain_legacy'] = net_seed(60, features=0)
    seeds['plain_mrg_rxbuf'] = net_seed(60, features=F_MRG_RXBUF)
    seeds['plain_version_1'] = net_seed(1500)
    seeds['vnet_hdr_legacy'] = net_seed(60, features=F_VNET_HDR)
    seeds['vnet_hdr_all'] = net_seed(
        60, features=F_VNET_HDR | F_MRG_RXBUF | F_VERSION_1)
    seeds['all_features'] = net_seed(60, features=2**64 - 1)
    seeds['empty_packet'] = net_seed(0)
    # Checksum offload.
    seeds['csum_udp4'] = net_seed(60, NEEDS_CSUM, csum_start=34,
                                  csum_offset=6)
    seeds['csum_at_end'] = net_seed(42, NEEDS_CSUM, csum_start=34,
                                    csum_offset=6)
    seeds['csum_past_end'] = net_seed(41, NEEDS_CSUM, csum_start=34,
                                      csum_offset=6)
    seeds['csum_u16_wrap'] = net_seed(100, NEEDS_CSUM, csum_start=0xfff0,
                                      csum_offset=0x10)
    seeds['csum_max'] = net_seed(0x20000, NEEDS_CSUM, csum_start=0xffff,
                                 csum_offset=0xffff)
    seeds['csum_fields_without_flag'] = net_seed(
        10, csum_start=0xffff, csum_offset=0xffff)
    # Flags.
    seeds['flag_data_valid'] = net_seed(60, 0x02)
    seeds['flag_rsc_info'] = net_seed(60, 0x04)
    seeds['flags_all'] = net_seed(60, 0xff)
    # hdr_len.
    seeds['hdr_len_at_end'] = net_seed(54, hdr_len=54)
    seeds['hdr_len_past_end'] = net_seed(53, hdr_len=54)
    seeds['hdr_len_max'] = net_seed(0xffff, hdr_len=0xffff)
    # GSO.
    seeds['tso4'] = net_seed(65000, gso_type=GSO_TCPV4, **tso)
    seeds['tso6'] = net_seed(65000, gso_type=GSO_TCPV6, **tso)
    seeds['ufo'] = net_seed(9000, gso_type=GSO_UDP, **tso)
    seeds['tso4_ecn'] = net_seed(65000, gso_type=GSO_TCPV4 | GSO_ECN, **tso)
    seeds['tso6_ecn'] = net_seed(65000, gso_type=GSO_TCPV6 | GSO_ECN, **tso)
    seeds['ufo_ecn'] = net_seed(9000, gso_type=GSO_UDP | GSO_ECN, **tso)
    seeds['ecn_without_gso'] = net_seed(9000, gso_type=GSO_ECN, **tso)
    seeds['gso_size_zero'] = net_seed(
        65000, gso_type=GSO_TCPV4, **dict(tso, gso_size=0))
    seeds['gso_without_csum'] = net_seed(
        65000, gso_type=GSO_TCPV6, **dict(tso, flags=0))
    seeds['gso_type_2'] = net_seed(65000, gso_type=2, **tso)
    seeds['gso_type_5'] = net_seed(65000, gso_type=5, **tso)
    seeds['gso_type_ff'] = net_seed(65000, gso_type=0xff, **tso)
    seeds['gso_hdr_len_past_end'] = net_seed(65, gso_type=GSO_TCPV4, **tso)
    # A legacy big-endian guest.
    seeds['big_endian_tso6'] = net_seed(65000, gso_type=GSO_TCPV6, le=False,
                                        features=0, **tso)
    seeds['big_endian_hdr_len'] = net_seed(60, hdr_len=54, le=False,
                                           features=0)
    seeds['big_endian_csum'] = net_seed(200, NEEDS_CSUM, csum_start=0x100,
                                        le=False, features=0)
    # Lengths beyond any packet.
    seeds['len_u32'] = net_seed(0x10000, gso_type=GSO_TCPV4, **tso)
    seeds['len_u64_max'] = net_seed(2**64 - 1, NEEDS_CSUM,
                                    csum_start=0xffff, csum_offset=0xffff)
    return seeds


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for target, seeds in (('fuzz_chain', chain_seeds()),
                          ('fuzz_used', used_seeds()),
                          ('fuzz_blk', blk_seeds()),
                          ('fuzz_net', net_seeds())):
        d = os.path.join(sys.argv[1], target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
