// A plain C reference for `kvmbench run demand-paging`: the same VM, the same ioctls and the same
// CPL3 guest loop, without Swift. scripts/compare-with-c runs it beside kvmbench in one run, so
// kvmbench's first-touch time can be checked against what the ioctls alone cost.
//
// The guest is built as GuestVM builds it: slot 0 (the system region: GDT, TSS with an all-clear
// I/O bitmap, code, parameter blocks, stacks, page tables identity-mapping 2 MiB system pages and
// 4 KiB test pages, Accessed/Dirty preset or clear) and slot 1 (the test memory at 4 GiB,
// anonymous, MADV_NOHUGEPAGE, optionally prefaulted). One vCPU thread per vCPU starts at CPL3 in
// the workload (WorkloadProgram's bytes, below; a kvmbench test checks they are the same), parks,
// then runs one pass (first touch) and a second pass; each pass is timed from the release of the
// vCPUs to the last one's sync exit, as GuestVM.runPasses does.
//
// usage: demand-paging MEM_MIB [VCPUS] [prefault 0|1] [ad 1|0] [repetitions]
// prints one line per repetition: first_touch_ms second_pass_ms pf_taken
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* workload-code-begin */
static const uint8_t workload[] = {
    0x4d, 0x8b, 0x17, 0x49, 0x8b, 0x4f, 0x08, 0x4d, 0x8b, 0x67, 0x10, 0x4d, 0x8b, 0x4f, 0x18, 0x4d,
    0x8b, 0x6f, 0x20, 0x4d, 0x8b, 0x77, 0x28, 0x4d, 0x8b, 0x5f, 0x30, 0x4c, 0x89, 0xd6, 0x48, 0xf7,
    0xc1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x84, 0x80, 0x00, 0x00, 0x00, 0x4c, 0x89, 0xc0, 0x48, 0xc1,
    0xe0, 0x0d, 0x49, 0x31, 0xc0, 0x4c, 0x89, 0xc0, 0x48, 0xc1, 0xe8, 0x07, 0x49, 0x31, 0xc0, 0x4c,
    0x89, 0xc0, 0x48, 0xc1, 0xe0, 0x11, 0x49, 0x31, 0xc0, 0x49, 0xf7, 0xc5, 0x01, 0x00, 0x00, 0x00,
    0x0f, 0x84, 0x1e, 0x00, 0x00, 0x00, 0x4c, 0x89, 0xc0, 0x48, 0xc1, 0xe8, 0x20, 0x49, 0x0f, 0xaf,
    0xc3, 0x48, 0xc1, 0xe8, 0x20, 0x49, 0x0f, 0xaf, 0xc4, 0x4c, 0x89, 0xd7, 0x48, 0x01, 0xc7, 0xe9,
    0x06, 0x00, 0x00, 0x00, 0x48, 0x89, 0xf7, 0x4c, 0x01, 0xe6, 0x44, 0x89, 0xc0, 0x4c, 0x39, 0xc8,
    0x0f, 0x82, 0x08, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x07, 0xe9, 0x03, 0x00, 0x00, 0x00, 0x4c, 0x89,
    0x37, 0x48, 0xf7, 0xc1, 0xff, 0x01, 0x00, 0x00, 0x0f, 0x85, 0x04, 0x00, 0x00, 0x00, 0x49, 0xff,
    0x47, 0x38, 0x48, 0xff, 0xc9, 0x0f, 0x85, 0x80, 0xff, 0xff, 0xff, 0x66, 0xba, 0x00, 0x10, 0xee,
    0xe9, 0x4b, 0xff, 0xff, 0xff,
};
/* workload-code-end */

#define TEST_BASE (1ull << 32)
#define PT_BASE 0x40000ull
#define SYNC_PORT 0x1000
#define die(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", strerror(errno)); exit(1); } while (0)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct vcpu { int fd; struct kvm_run *run; pthread_t thread; sem_t go; int passes; uint64_t nanos; };
static sem_t done;

static void *vcpu_loop(void *arg) {
    struct vcpu *v = arg;
    for (;;) {
        sem_wait(&v->go);
        if (v->passes < 0) return NULL;
        uint64_t start = now_ns();
        for (;;) {
            if (ioctl(v->fd, KVM_RUN, 0) < 0) { if (errno == EINTR) continue; die("KVM_RUN"); }
            if (v->run->exit_reason == KVM_EXIT_IO && v->run->io.port == SYNC_PORT) break;
            fprintf(stderr, "unexpected exit %u\n", v->run->exit_reason);
            exit(1);
        }
        v->nanos = now_ns() - start;
        sem_post(&done);
    }
}

static uint64_t seg_desc(uint64_t type, uint64_t dpl, int code) {
    uint64_t d = 0xFFFF | (type << 40) | (1ull << 44) | (dpl << 45) | (1ull << 47) | (0xFull << 48) | (1ull << 55);
    return d | (code ? 1ull << 53 : 1ull << 54);
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t dpl, int code) {
    struct kvm_segment s = { .base = 0, .limit = 0xFFFFFFFF, .selector = sel, .type = type, .present = 1, .dpl = dpl,
                             .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0, .g = 1 };
    return s;
}

/* The tables GuestLayout / PageTableBuilder write; returns the system region's size. */
static uint64_t system_size(uint64_t test_size) {
    uint64_t end = TEST_BASE + test_size;
    uint64_t pdpts = ((end - 1) >> 39) - (TEST_BASE >> 39) + 1 + 1;
    uint64_t pds = ((end - 1) >> 30) - (TEST_BASE >> 30) + 1 + 1;
    uint64_t pts = ((end - 1) >> 21) - (TEST_BASE >> 21) + 1;
    uint64_t tables = (1 + pdpts + pds + pts) * 4096 + 4 * 4096;
    return (PT_BASE + tables + (2 << 20) - 1) / (2 << 20) * (2 << 20);
}

static uint8_t *sys;
static uint64_t next_table;
static uint64_t *entry(uint64_t table, uint64_t index) { return (uint64_t *)(sys + table + index * 8); }
static uint64_t child(uint64_t table, uint64_t index, uint64_t abits) {
    uint64_t *e = entry(table, index);
    if (*e & 1) return *e & 0x000FFFFFFFFFF000ull;
    uint64_t fresh = next_table;
    next_table += 4096;
    memset(sys + fresh, 0, 4096);
    *e = fresh | 7 | abits;
    return fresh;
}
static void map(uint64_t address, int huge, uint64_t abits, uint64_t leafbits) {
    uint64_t pdpt = child(PT_BASE, (address >> 39) & 511, abits);
    uint64_t pd = child(pdpt, (address >> 30) & 511, abits);
    if (huge) { *entry(pd, (address >> 21) & 511) = address | 7 | 0x80 | leafbits; return; }
    uint64_t pt = child(pd, (address >> 21) & 511, abits);
    *entry(pt, (address >> 12) & 511) = address | 7 | leafbits;
}

int main(int argc, char **argv) {
    uint64_t mem = (argc > 1 ? strtoull(argv[1], NULL, 0) : 256) << 20;
    int nvcpus = argc > 2 ? atoi(argv[2]) : 1;
    int prefault = argc > 3 ? atoi(argv[3]) : 1;
    int ad = argc > 4 ? atoi(argv[4]) : 1;
    int repetitions = argc > 5 ? atoi(argv[5]) : 1;
    uint64_t abits = ad ? 0x20 : 0, leafbits = ad ? 0x60 : 0;
    uint64_t test_size = mem * nvcpus;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 256;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
    sem_init(&done, 0, 0);

    for (int rep = 0; rep < repetitions; rep++) {
        uint64_t ssize = system_size(test_size);
        sys = mmap(NULL, ssize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        uint8_t *test = mmap(NULL, test_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (sys == MAP_FAILED || test == MAP_FAILED) die("mmap");
        madvise(sys, ssize, MADV_NOHUGEPAGE);
        madvise(test, test_size, MADV_NOHUGEPAGE);
        /* GDT: kernel code 0x08, kernel data 0x10, user data 0x2b, user code 0x33, TSS 0x40. */
        uint64_t *gdt = (uint64_t *)(sys + 0x1000);
        memset(gdt, 0, 80);
        gdt[1] = seg_desc(0xB, 0, 1); gdt[2] = seg_desc(0x3, 0, 0);
        gdt[5] = seg_desc(0x3, 3, 0); gdt[6] = seg_desc(0xB, 3, 1);
        uint64_t tss = 0x6000, tss_limit = 0x68 + 8192;
        gdt[8] = (tss_limit & 0xFFFF) | ((tss & 0xFFFFFF) << 16) | (0x9ull << 40) | (1ull << 47) | ((tss >> 24 & 0xFF) << 56);
        gdt[9] = tss >> 32;
        memset(sys + tss, 0, tss_limit + 1);
        *(uint16_t *)(sys + tss + 0x66) = 0x68;
        sys[tss + tss_limit] = 0xFF;
        memcpy(sys + 0x5000, workload, sizeof(workload));
        memset(sys + PT_BASE, 0, 4096);
        next_table = PT_BASE + 4096;
        for (uint64_t a = 0; a < ssize; a += 2 << 20) map(a, 1, abits, leafbits);
        for (uint64_t a = TEST_BASE; a < TEST_BASE + test_size; a += 4096) map(a, 0, abits, leafbits);

        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0) die("KVM_CREATE_VM");
        ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000ul);
        struct kvm_userspace_memory_region r0 = { .slot = 0, .guest_phys_addr = 0, .memory_size = ssize, .userspace_addr = (uint64_t)sys };
        struct kvm_userspace_memory_region r1 = { .slot = 1, .guest_phys_addr = TEST_BASE, .memory_size = test_size, .userspace_addr = (uint64_t)test };
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0) die("KVM_SET_USER_MEMORY_REGION");
        if (prefault) for (uint64_t o = 0; o < test_size; o += 4096) test[o] = 0;

        struct vcpu *vcpus = calloc(nvcpus, sizeof(*vcpus));
        int statfds[1024];
        for (int i = 0; i < nvcpus; i++) {
            struct vcpu *v = &vcpus[i];
            v->fd = ioctl(vm, KVM_CREATE_VCPU, i);
            if (v->fd < 0) die("KVM_CREATE_VCPU");
            if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
            v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
            struct kvm_sregs s;
            ioctl(v->fd, KVM_GET_SREGS, &s);
            s.cr0 = 0x80050033; s.cr3 = PT_BASE; s.cr4 = 0x620; s.efer = 0x500;
            s.gdt.base = 0x1000; s.gdt.limit = 79; s.idt.base = 0x3000; s.idt.limit = 0;
            s.cs = seg(0x33, 0xB, 3, 1);
            s.ds = s.es = s.fs = s.gs = s.ss = seg(0x2B, 0x3, 3, 0);
            s.tr = (struct kvm_segment){ .base = tss, .limit = tss_limit, .selector = 0x40, .type = 0xB, .present = 1 };
            if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
            /* The parameter block: base, accesses, stride, write threshold, flags, token, targets, progress. */
            uint64_t *block = (uint64_t *)(sys + 0x10000 + i * 64);
            uint64_t pages = mem / 4096;
            uint64_t fields[8] = { TEST_BASE + i * mem, pages, 4096, 1ull << 32, 0, 1, pages, 0 };
            memcpy(block, fields, sizeof(fields));
            uint64_t seed = 1 + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
            seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ull;
            struct kvm_regs regs = { .rip = 0x5000, .rsp = 0x20000 + (i + 1) * 64, .rflags = 0x3002,
                                     .r15 = 0x10000 + i * 64, .r8 = seed ? seed : 1 };
            if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
            statfds[i] = ioctl(v->fd, KVM_GET_STATS_FD, 0);
            sem_init(&v->go, 0, 0);
            pthread_create(&v->thread, NULL, vcpu_loop, v);
        }
        usleep(10000); /* every thread parked */

        uint64_t pass_ns[2];
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < nvcpus; i++) *(uint64_t *)(sys + 0x10000 + i * 64 + 40) = pass + 1;
            uint64_t start = now_ns();
            for (int i = 0; i < nvcpus; i++) { vcpus[i].passes = 1; sem_post(&vcpus[i].go); }
            for (int i = 0; i < nvcpus; i++) sem_wait(&done);
            pass_ns[pass] = now_ns() - start;
        }
        /* pf_taken from the vCPU stats (summed); found by name in the descriptors. */
        uint64_t faults = 0;
        for (int i = 0; i < nvcpus; i++) {
            struct kvm_stats_header h;
            if (statfds[i] < 0 || pread(statfds[i], &h, sizeof(h), 0) != sizeof(h)) continue;
            size_t stride = sizeof(struct kvm_stats_desc) + h.name_size;
            char *descs = malloc(stride * h.num_desc);
            pread(statfds[i], descs, stride * h.num_desc, h.desc_offset);
            for (uint32_t d = 0; d < h.num_desc; d++) {
                struct kvm_stats_desc *desc = (void *)(descs + d * stride);
                if (strcmp(desc->name, "pf_taken") == 0) {
                    uint64_t value;
                    pread(statfds[i], &value, 8, h.data_offset + desc->offset);
                    faults += value;
                }
            }
            free(descs);
        }
        printf("%.3f %.3f %llu\n", pass_ns[0] / 1e6, pass_ns[1] / 1e6, (unsigned long long)faults);
        fflush(stdout);
        for (int i = 0; i < nvcpus; i++) { vcpus[i].passes = -1; sem_post(&vcpus[i].go); pthread_join(vcpus[i].thread, NULL); }
        for (int i = 0; i < nvcpus; i++) { munmap(vcpus[i].run, run_size); close(vcpus[i].fd); if (statfds[i] >= 0) close(statfds[i]); }
        free(vcpus);
        close(vm);
        munmap(test, test_size);
        munmap(sys, ssize);
    }
    return 0;
}
