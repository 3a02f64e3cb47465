// SPDX-License-Identifier: GPL-2.0
/*
 * vmm_launch - hand QEMU a tap and a vhost node as open file descriptors,
 * the way a management layer such as libvirt does, so that the node under
 * test is whatever path is given instead of QEMU's built-in /dev/vhost-net.
 *
 *   vmm_launch [-i IFNAME] [-n ID] NODE QEMU [ARG...]
 *
 * opens IFNAME (default kvhe2e0) with TUNSETIFF and NODE read-write, both
 * inheritable, and execs QEMU with ARG... followed by
 *
 *   -netdev tap,id=ID,fd=TAPFD,vhost=on,vhostforce=on,vhostfd=VHOSTFD
 *
 * QEMU 7.2 refuses ifname=, script=, downscript=, vnet_hdr=, helper=,
 * queues=, fds= and vhostfds= next to fd= (it reads the interface and its
 * vnet header support back from the fd with TUNGETIFF), but takes a single
 * vhostfd= with it.  vhostforce=on turns a vhost initialisation failure
 * into a fatal error instead of a silent fallback to userspace virtio.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void print_help(FILE *f)
{
	fprintf(f,
		"usage: vmm_launch [-i IFNAME] [-n ID] NODE QEMU [ARG...]\n"
		"  open tap IFNAME (default kvhe2e0) and the vhost node NODE,\n"
		"  then exec QEMU ARG... -netdev tap,id=ID (default net0),\n"
		"  fd=TAPFD,vhost=on,vhostforce=on,vhostfd=VHOSTFD\n");
}

/* Attach to (or create) a tap queue with the flags QEMU itself uses. */
static int open_tap(const char *name)
{
	struct ifreq ifr;
	int fd;

	if (strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "vmm_launch: interface name too long: %s\n",
			name);
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "vmm_launch: /dev/net/tun: %s\n",
			strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "vmm_launch: TUNSETIFF %s: %s\n", name,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *ifname = "kvhe2e0", *id = "net0", *node;
	char netdev[256];
	char **args;
	int opt, tapfd, vhostfd, nargs, i;

	while ((opt = getopt(argc, argv, "+hi:n:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'n':
			id = optarg;
			break;
		case 'h':
			print_help(stdout);
			return 0;
		default:
			print_help(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		print_help(stderr);
		return 2;
	}
	node = argv[optind];

	tapfd = open_tap(ifname);
	if (tapfd < 0)
		return 1;
	/* No O_CLOEXEC: QEMU inherits both descriptors. */
	vhostfd = open(node, O_RDWR);
	if (vhostfd < 0) {
		fprintf(stderr, "vmm_launch: %s: %s\n", node, strerror(errno));
		return 1;
	}
	snprintf(netdev, sizeof(netdev),
		 "tap,id=%s,fd=%d,vhost=on,vhostforce=on,vhostfd=%d",
		 id, tapfd, vhostfd);

	/* QEMU and its arguments, then -netdev, the netdev, NULL. */
	nargs = argc - optind - 1;
	args = calloc(nargs + 3, sizeof(*args));
	if (!args) {
		perror("vmm_launch");
		return 1;
	}
	for (i = 0; i < nargs; i++)
		args[i] = argv[optind + 1 + i];
	args[nargs] = "-netdev";
	args[nargs + 1] = netdev;
	fprintf(stderr, "vmm_launch: tap %s fd %d, %s fd %d: -netdev %s\n",
		ifname, tapfd, node, vhostfd, netdev);
	fflush(stderr);
	execvp(args[0], args);
	fprintf(stderr, "vmm_launch: exec %s: %s\n", args[0], strerror(errno));
	return 127;
}
