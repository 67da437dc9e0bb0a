// A plain C reference for memslots' `slot_setup_time`: a VM built as kvmbench's GuestVM builds it
// for `kvmbench run memslots` (KVM_SET_TSS_ADDR, slot 0 with the system region, vCPUs with CPUID
// and their stats fds, the VM's stats fd, the test memory as one anonymous MADV_NOHUGEPAGE
// mapping), then the test memory split into SLOTS slots at 4 GiB exactly as GuestVM.splitIntoSlots
// splits it, created one KVM_SET_USER_MEMORY_REGION at a time; the creation loop alone is timed.
//
// usage: memslot-setup SLOTS [MEM_MIB] [VCPUS] [REPETITIONS]
// prints one line per repetition: setup_ms
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define die(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", strerror(errno)); exit(1); } while (0)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv) {
    uint64_t slots = argc > 1 ? strtoull(argv[1], NULL, 0) : 32763;
    uint64_t mem = (argc > 2 ? strtoull(argv[2], NULL, 0) : 512) << 20;
    int nvcpus = argc > 3 ? atoi(argv[3]) : 1;
    int repetitions = argc > 4 ? atoi(argv[4]) : 1;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 256;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
    uint64_t units = mem / 4096;
    if (slots > units) slots = units;
    uint64_t per_slot = units / slots;
    struct kvm_userspace_memory_region *regions = calloc(slots, sizeof(*regions));

    for (int rep = 0; rep < repetitions; rep++) {
        uint64_t system_size = 2 << 20;
        void *sys = mmap(NULL, system_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        uint8_t *test = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (sys == MAP_FAILED || test == MAP_FAILED) die("mmap");
        madvise(sys, system_size, MADV_NOHUGEPAGE);
        madvise(test, mem, MADV_NOHUGEPAGE);
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0) die("KVM_CREATE_VM");
        ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000ul);
        struct kvm_userspace_memory_region r0 = { .slot = 0, .memory_size = system_size, .userspace_addr = (uint64_t)sys };
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0) die("slot 0");
        int fds[1024], statfds[1024];
        for (int i = 0; i < nvcpus; i++) {
            fds[i] = ioctl(vm, KVM_CREATE_VCPU, i);
            if (fds[i] < 0) die("KVM_CREATE_VCPU");
            if (ioctl(fds[i], KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
            statfds[i] = ioctl(fds[i], KVM_GET_STATS_FD, 0);
        }
        int vmstats = ioctl(vm, KVM_GET_STATS_FD, 0);
        uint64_t offset = 0;
        for (uint64_t i = 0; i < slots; i++) {
            uint64_t size = i == slots - 1 ? mem - offset : per_slot * 4096;
            regions[i] = (struct kvm_userspace_memory_region){ .slot = (uint32_t)(i + 1), .guest_phys_addr = (1ull << 32) + offset,
                                                               .memory_size = size, .userspace_addr = (uint64_t)test + offset };
            offset += size;
        }
        uint64_t start = now_ns();
        for (uint64_t i = 0; i < slots; i++)
            if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &regions[i]) < 0) die("slot %llu", (unsigned long long)i + 1);
        uint64_t nanos = now_ns() - start;
        printf("%.3f\n", nanos / 1e6);
        fflush(stdout);
        close(vmstats);
        for (int i = 0; i < nvcpus; i++) { close(statfds[i]); close(fds[i]); }
        close(vm);
        munmap(test, mem);
        munmap(sys, system_size);
    }
    return 0;
}
