// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost worker threads: one per vq (or per device), created at
 * VHOST_SET_OWNER in the owner's cgroup, gone after RESET_OWNER and close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvhost.h>
#include <linux/vhost.h>

#include "kselftest_harness.h"
#include "virtq.h"

#define TEST_NODE "/dev/" KVHOST_TEST_NODE
#define MAX_WORKERS 64

/* Poll until exactly @want workers exist (threads exit asynchronously). */
static int wait_workers(pid_t owner, int want)
{
	pid_t tids[MAX_WORKERS];
	int n = -1, i;

	for (i = 0; i < 200; i++) {
		n = vq_workers(owner, false, tids, MAX_WORKERS);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

static int expected_workers(void)
{
	char c = 'Y';
	FILE *f;

	f = fopen("/sys/module/kvhost/parameters/worker_per_vq", "r");
	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = 'Y';
		fclose(f);
	}
	return c == 'Y' ? KVHOST_TEST_NVQS : 1;
}

FIXTURE(worker) {
	int fd;
};

FIXTURE_SETUP(worker)
{
	self->fd = open(TEST_NODE, O_RDWR | O_CLOEXEC);
	/* The 6.1 harness would run the body after SKIP(return): exit. */
	if (self->fd < 0 && errno == ENOENT)
		SKIP(_exit(255), "%s absent (load kvhost with test_dev=1)",
		     TEST_NODE);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(worker)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(worker, none_before_owner)
{
	EXPECT_EQ(0, wait_workers(getpid(), 0));
}

TEST_F(worker, created_by_set_owner)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
}

TEST_F(worker, gone_after_reset_owner)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, wait_workers(getpid(), 0));
	/* And a new owner gets new workers. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
}

TEST_F(worker, gone_after_close)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, wait_workers(getpid(), 0));
}

/* Workers join the owner's cgroup, so the VMM's limits cover them. */
TEST_F(worker, in_owner_cgroup)
{
	char dir[128], path[192], line[256], want[256];
	pid_t tids[MAX_WORKERS];
	int n, i;
	FILE *f;

	if (access("/sys/fs/cgroup/cgroup.procs", W_OK))
		SKIP(return, "no writable cgroup2 hierarchy");
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/kvhost-test-%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0755)) TH_LOG("mkdir %s: %s", dir,
					      strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%d\n", getpid());
	ASSERT_EQ(0, fclose(f));

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	n = vq_workers(getpid(), false, tids, MAX_WORKERS);
	EXPECT_EQ(expected_workers(), n);
	snprintf(want, sizeof(want), "0::/kvhost-test-%d\n", getpid());
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/cgroup", tids[i]);
		f = fopen(path, "r");
		ASSERT_NE(NULL, f);
		ASSERT_NE(NULL, fgets(line, sizeof(line), f));
		fclose(f);
		EXPECT_STREQ(want, line);
	}

	/* Leave the cgroup empty so it can go. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, wait_workers(getpid(), 0));
	f = fopen("/sys/fs/cgroup/cgroup.procs", "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%d\n", getpid());
	ASSERT_EQ(0, fclose(f));
	EXPECT_EQ(0, rmdir(dir));
}

TEST_HARNESS_MAIN
