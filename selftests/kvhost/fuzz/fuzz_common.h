/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the userspace fuzzers of the ring engine: the access arena
 * and dirty-log bitmap that <kvhost/access.h> expects in arena builds, an
 * input reader, byte-order helpers independent of the shims, and checks
 * that abort (so libFuzzer reports a crash) with a readable message.
 */
#ifndef _KVH_FUZZ_COMMON_H
#define _KVH_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include <linux/errno.h>
#include <linux/types.h>

#include <kvhost/access.h>
#include <kvhost/vring.h>

/* Guest page size of the dirty log, stated independently of vring.h. */
#define FUZZ_PAGE_SHIFT	12

/* Each target's libFuzzer entry point, under a kernel-style name. */
int fuzz_one_input(const u8 *data, size_t size)
	__asm__("LLVMFuzzerTestOneInput");

bool fuzz_tracing(void);

/* With KVH_FUZZ_TRACE set in the environment, say what happens. */
#define fuzz_trace(fmt, ...)						\
	do {								\
		if (fuzz_tracing())					\
			fprintf(stderr, fmt, ##__VA_ARGS__);		\
	} while (0)

/* Report a failed check and abort(), which libFuzzer reports as a crash. */
#define fuzz_fail(fmt, ...)						\
	do {								\
		fprintf(stderr, "FUZZ CHECK FAILED at %s:%d: " fmt "\n", \
			__FILE__, __LINE__, ##__VA_ARGS__);		\
		abort();						\
	} while (0)

#define fuzz_check(cond, fmt, ...)					\
	do {								\
		if (!(cond))						\
			fuzz_fail("%s: " fmt, #cond, ##__VA_ARGS__);	\
	} while (0)

/**
 * struct fuzz_in - the fuzzer's input, read front to back
 * @p: next byte
 * @left: bytes left; once 0, every read yields zeros
 */
struct fuzz_in {
	const u8 *p;
	size_t left;
};

u8 fuzz_u8(struct fuzz_in *in);
u16 fuzz_u16(struct fuzz_in *in);
u32 fuzz_u32(struct fuzz_in *in);
u64 fuzz_u64(struct fuzz_in *in);

/* Ring byte order, written out byte by byte. */
u16 fuzz_get16(const u8 *p, bool le);
u32 fuzz_get32(const u8 *p, bool le);
u64 fuzz_get64(const u8 *p, bool le);
void fuzz_put16(u8 *p, bool le, u16 v);
void fuzz_put32(u8 *p, bool le, u32 v);

/**
 * struct fuzz_log - the VMM's dirty bitmap, a window of the arena
 * @base: first byte; a ring's @log_base must be this
 * @size: bytes; kvh_log_pages() refuses any bit past them
 * @calls: kvh_log_pages() calls so far
 */
struct fuzz_log {
	unsigned long base;
	size_t size;
	unsigned long calls;
};

extern struct fuzz_log fuzz_log;

/**
 * struct fuzz_acc - one guest access or barrier by the engine
 * @kind: FUZZ_READ, FUZZ_WRITE, FUZZ_MB, FUZZ_RMB or FUZZ_WMB
 * @off: arena offset of a read or write
 * @len: its length
 */
struct fuzz_acc {
	u8 kind;
	size_t off;
	size_t len;
};

enum { FUZZ_READ, FUZZ_WRITE, FUZZ_MB, FUZZ_RMB, FUZZ_WMB };

#define FUZZ_MAX_ACC	4096

/**
 * struct fuzz_acc_log - the engine's accesses since fuzz_acc_reset()
 * @n: entries in @acc
 * @lost: more happened than @acc holds; checks must be skipped
 * @acc: the accesses, in program order
 */
struct fuzz_acc_log {
	unsigned int n;
	bool lost;
	struct fuzz_acc acc[FUZZ_MAX_ACC];
};

extern struct fuzz_acc_log fuzz_acc;

void fuzz_acc_reset(void);

/* Called by the engine through fuzz_hooks.h. */
void *fuzz_copy(void *dst, const void *src, size_t n);
void fuzz_mb(void);
void fuzz_rmb(void);
void fuzz_wmb(void);

bool fuzz_acc_is(const struct fuzz_acc *a, u8 kind, size_t off, size_t len);

u8 *fuzz_arena_alloc(size_t size);
void fuzz_arena_free(u8 *arena);
bool fuzz_user_ok(unsigned long uaddr, u64 len);
bool fuzz_log_covers(u64 first_page, u64 last_page);
void fuzz_log_set(u8 *map, u64 first_page, u64 last_page);

#endif /* _KVH_FUZZ_COMMON_H */
