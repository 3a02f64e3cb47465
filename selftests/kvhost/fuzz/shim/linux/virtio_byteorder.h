/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/virtio_byteorder.h>: ring
 * fields are little-endian (virtio 1.x) or big-endian (a legacy device on
 * a big-endian guest), whatever the host is.
 */
#ifndef _KVH_SHIM_LINUX_VIRTIO_BYTEORDER_H
#define _KVH_SHIM_LINUX_VIRTIO_BYTEORDER_H

#include <endian.h>

#include <linux/types.h>
#include <linux/virtio_types.h>

static inline u16 __virtio16_to_cpu(bool little_endian, __virtio16 val)
{
	return little_endian ? le16toh(val) : be16toh(val);
}

static inline __virtio16 __cpu_to_virtio16(bool little_endian, u16 val)
{
	return little_endian ? htole16(val) : htobe16(val);
}

static inline u32 __virtio32_to_cpu(bool little_endian, __virtio32 val)
{
	return little_endian ? le32toh(val) : be32toh(val);
}

static inline __virtio32 __cpu_to_virtio32(bool little_endian, u32 val)
{
	return little_endian ? htole32(val) : htobe32(val);
}

static inline u64 __virtio64_to_cpu(bool little_endian, __virtio64 val)
{
	return little_endian ? le64toh(val) : be64toh(val);
}

static inline __virtio64 __cpu_to_virtio64(bool little_endian, u64 val)
{
	return little_endian ? htole64(val) : htobe64(val);
}

#endif /* _KVH_SHIM_LINUX_VIRTIO_BYTEORDER_H */
