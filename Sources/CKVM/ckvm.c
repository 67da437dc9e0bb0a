/* Compile-time checks that the structs kvmbench shares with the kernel have the kernel's layout.
 * The sizes are those of the uapi (include/uapi/linux/kvm.h) on x86-64. */
#include "ckvm.h"

_Static_assert(sizeof(struct kvm_userspace_memory_region) == 32, "kvm_userspace_memory_region");
_Static_assert(sizeof(struct kvm_userspace_memory_region2) == 160, "kvm_userspace_memory_region2");
_Static_assert(KVM_SET_USER_MEMORY_REGION2 == 0x40a0ae49, "KVM_SET_USER_MEMORY_REGION2 request number");
_Static_assert(sizeof(struct kvm_create_guest_memfd) == 64, "kvm_create_guest_memfd");
_Static_assert(sizeof(struct kvm_pre_fault_memory) == 64, "kvm_pre_fault_memory");
_Static_assert(KVM_PRE_FAULT_MEMORY == 0xc040aed5, "KVM_PRE_FAULT_MEMORY request number");
_Static_assert(sizeof(struct kvm_dirty_gfn) == 16, "kvm_dirty_gfn");
_Static_assert(sizeof(struct kvm_dirty_log) == 16, "kvm_dirty_log");
_Static_assert(sizeof(struct kvm_clear_dirty_log) == 24, "kvm_clear_dirty_log");
_Static_assert(sizeof(struct kvm_enable_cap) == 104, "kvm_enable_cap");
_Static_assert(sizeof(struct kvm_stats_header) == 24, "kvm_stats_header");
_Static_assert(sizeof(struct kvm_stats_desc) == 16, "kvm_stats_desc (without its name)");
_Static_assert(sizeof(struct kvm_regs) == 144, "kvm_regs");
_Static_assert(sizeof(struct kvm_sregs) == 312, "kvm_sregs");
_Static_assert(sizeof(struct kvm_segment) == 24, "kvm_segment");
_Static_assert(sizeof(struct kvm_cpuid_entry2) == 40, "kvm_cpuid_entry2");
_Static_assert(sizeof(struct uffdio_copy) == 40, "uffdio_copy");
_Static_assert(sizeof(struct uffdio_continue) == 32, "uffdio_continue");
_Static_assert(sizeof(struct uffd_msg) == 32, "uffd_msg");
_Static_assert(KVM_DIRTY_LOG_PAGE_OFFSET == 64, "dirty ring page offset in the vCPU mmap");
