/*
 * chostmemory.h: the thin C layer between kvmbench's host-memory code (Backings) and the mm and
 * perf uapi (and getcpu): flags Swift cannot import because they are built from shifts, and system calls glibc
 * has no wrapper for. Nothing of KVM's uapi is here (that is CKVM).
 */
#pragma once

#include <linux/memfd.h>
#include <linux/mman.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* mmap/memfd huge page sizes, built from shifts. */
static const int CHOST_MAP_HUGE_2MB = (21 << MAP_HUGE_SHIFT);
static const int CHOST_MAP_HUGE_1GB = (30 << MAP_HUGE_SHIFT);
static const unsigned int CHOST_MFD_HUGE_2MB = (21U << MFD_HUGE_SHIFT);
static const unsigned int CHOST_MFD_HUGE_1GB = (30U << MFD_HUGE_SHIFT);

/* getcpu(2): the CPU the calling thread runs on now (glibc's sched_getcpu is declared only
 * under _GNU_SOURCE, which Swift's Glibc module is not built with); -1 on failure. */
static inline int chost_current_cpu(void) {
    unsigned int cpu = 0;
    return syscall(SYS_getcpu, &cpu, (void *)0, (void *)0) == 0 ? (int)cpu : -1;
}

/* memfd_create(2) through the raw syscall, so MFD_HUGETLB sizes work whatever glibc declares. */
static inline int chost_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

/* perf_event_open(2) counting one tracepoint (its tracefs id) on the calling thread, any CPU,
 * from the moment it is opened (glibc has no wrapper). */
static inline int chost_perf_tracepoint_counter(__u64 tracepoint_id) {
    struct perf_event_attr attr = {0};
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof(attr);
    attr.config = tracepoint_id;
    return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}
