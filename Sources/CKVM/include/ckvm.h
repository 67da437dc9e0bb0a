/*
 * ckvm.h: the thin C layer between kvmbench and the KVM uapi.
 *
 * Swift imports neither variadic functions (ioctl) nor function-like macros (_IOW(...)), so this
 * header re-exports every ioctl request number kvmbench uses as a constant, wraps ioctl() in two
 * fixed-signature inline functions, and defines the uapi that is newer than the system's headers
 * (Debian 12 ships kernel 6.1's linux/kvm.h). Every struct defined here is checked against the
 * kernel's size in ckvm.c.
 */
#pragma once

#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <linux/memfd.h>
#include <linux/mman.h>
#include <linux/mempolicy.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>

/* ---- uapi newer than kernel 6.1 ----------------------------------------------------------- */

/* KVM_SET_USER_MEMORY_REGION2 (6.8): memslots that may be backed by guest_memfd. */
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
struct kvm_userspace_memory_region2 {
    __u32 slot;
    __u32 flags;
    __u64 guest_phys_addr;
    __u64 memory_size;
    __u64 userspace_addr;
    __u64 guest_memfd_offset;
    __u32 guest_memfd;
    __u32 pad1;
    __u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif

/* guest_memfd (6.8; MMAP and INIT_SHARED flags 6.18). */
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
struct kvm_create_guest_memfd {
    __u64 size;
    __u64 flags;
    __u64 reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP (1ULL << 0)
#define GUEST_MEMFD_FLAG_INIT_SHARED (1ULL << 1)
#endif

/* KVM_PRE_FAULT_MEMORY (6.10): map guest memory into the MMU of a vCPU's address space without
 * running it. KVM advances gpa and shrinks size as it goes, so a partial result is resumed. */
#ifndef KVM_PRE_FAULT_MEMORY
struct kvm_pre_fault_memory {
    __u64 gpa;
    __u64 size;
    __u64 flags;
    __u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY 236
#endif
#ifndef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
#define KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP 225
#endif

/* Quirk bits for KVM_CAP_DISABLE_QUIRKS2 newer than 6.1. SLOT_ZAP_ALL: deleting or moving any
 * memslot zaps every shadow/TDP page of the VM (6.12). */
#ifndef KVM_X86_QUIRK_FIX_HYPERCALL_INSN
#define KVM_X86_QUIRK_FIX_HYPERCALL_INSN (1 << 5)
#endif
#ifndef KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS
#define KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS (1 << 6)
#endif
#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL (1 << 7)
#endif

/* ---- request numbers, as constants Swift can import ---------------------------------------- */

/* /dev/kvm */
static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
/* VM */
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_SET_USER_MEMORY_REGION2 = KVM_SET_USER_MEMORY_REGION2;
static const unsigned long CKVM_GET_DIRTY_LOG = KVM_GET_DIRTY_LOG;
static const unsigned long CKVM_CLEAR_DIRTY_LOG = KVM_CLEAR_DIRTY_LOG; /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 */
static const unsigned long CKVM_RESET_DIRTY_RINGS = KVM_RESET_DIRTY_RINGS; /* KVM_CAP_DIRTY_LOG_RING */
static const unsigned long CKVM_ENABLE_CAP = KVM_ENABLE_CAP;
static const unsigned long CKVM_GET_STATS_FD = KVM_GET_STATS_FD; /* KVM_CAP_BINARY_STATS_FD */
static const unsigned long CKVM_CREATE_GUEST_MEMFD = KVM_CREATE_GUEST_MEMFD; /* KVM_CAP_GUEST_MEMFD */
static const unsigned long CKVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
/* vCPU */
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_PRE_FAULT_MEMORY = KVM_PRE_FAULT_MEMORY; /* KVM_CAP_PRE_FAULT_MEMORY */
/* userfaultfd */
static const unsigned long CUFFDIO_API = UFFDIO_API;
static const unsigned long CUFFDIO_REGISTER = UFFDIO_REGISTER;
static const unsigned long CUFFDIO_UNREGISTER = UFFDIO_UNREGISTER;
static const unsigned long CUFFDIO_COPY = UFFDIO_COPY;
static const unsigned long CUFFDIO_ZEROPAGE = UFFDIO_ZEROPAGE;
static const unsigned long CUFFDIO_CONTINUE = UFFDIO_CONTINUE;
static const unsigned long CUFFDIO_WAKE = UFFDIO_WAKE;
static const unsigned long long CUFFDIO_REGISTER_MODE_MISSING = UFFDIO_REGISTER_MODE_MISSING;
static const unsigned long long CUFFDIO_REGISTER_MODE_MINOR = UFFDIO_REGISTER_MODE_MINOR;

/* ---- calls ---------------------------------------------------------------------------------- */

/* ioctl() with a pointer argument. */
static inline int ckvm_ioctl_ptr(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}

/* ioctl() with an integer argument (or none: pass 0). */
static inline int ckvm_ioctl_val(int fd, unsigned long request, unsigned long arg) {
    return ioctl(fd, request, arg);
}

/* userfaultfd(2), which glibc 2.36 has no wrapper for. */
static inline int ckvm_userfaultfd(int flags) {
    return (int)syscall(SYS_userfaultfd, flags);
}

/* ---- kvm_run accessors ----------------------------------------------------------------------
 * kvm_run's exit payload is an anonymous union; these return pointers into the mmap'd run page
 * so the Swift side reads the payload of the exit it got without copying the page. */
static inline __typeof__(((struct kvm_run *)0)->io) *ckvm_run_io(struct kvm_run *run) { return &run->io; }
static inline __typeof__(((struct kvm_run *)0)->mmio) *ckvm_run_mmio(struct kvm_run *run) { return &run->mmio; }
static inline __typeof__(((struct kvm_run *)0)->fail_entry) *ckvm_run_fail_entry(struct kvm_run *run) { return &run->fail_entry; }
static inline __typeof__(((struct kvm_run *)0)->internal) *ckvm_run_internal(struct kvm_run *run) { return &run->internal; }

/* ---- dirty ring entries ----------------------------------------------------------------------
 * The kernel publishes an entry by setting KVM_DIRTY_GFN_F_DIRTY; userspace hands it back by
 * setting KVM_DIRTY_GFN_F_RESET. With KVM_CAP_DIRTY_LOG_RING_ACQ_REL the flags must be read with
 * acquire and written with release ordering. */
static inline __u32 ckvm_dirty_gfn_flags_acquire(struct kvm_dirty_gfn *gfn) {
    return __atomic_load_n(&gfn->flags, __ATOMIC_ACQUIRE);
}
static inline void ckvm_dirty_gfn_mark_reset_release(struct kvm_dirty_gfn *gfn) {
    __atomic_store_n(&gfn->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
}
/* kvm_run.immediate_exit is read by KVM_RUN on entry; a watchdog sets it from another thread. */
static inline void ckvm_run_set_immediate_exit(struct kvm_run *run, __u8 value) {
    __atomic_store_n(&run->immediate_exit, value, __ATOMIC_RELEASE);
}
static const __u32 CKVM_DIRTY_GFN_F_DIRTY = KVM_DIRTY_GFN_F_DIRTY;

/* ---- the host's own CPU ----------------------------------------------------------------------
 * CPUID as this process sees it: on a virtual or emulated host, leaf 0x40000000 names the
 * hypervisor or emulator ("KVMKVMKVM", "TCGTCGTCGTCG" for QEMU's software emulation). */
typedef struct { __u32 eax, ebx, ecx, edx; } ckvm_cpuid_regs;
static inline ckvm_cpuid_regs ckvm_cpuid(__u32 leaf, __u32 subleaf) {
    ckvm_cpuid_regs regs = {0, 0, 0, 0};
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("cpuid" : "=a"(regs.eax), "=b"(regs.ebx), "=c"(regs.ecx), "=d"(regs.edx) : "a"(leaf), "c"(subleaf));
#endif
    return regs;
}
