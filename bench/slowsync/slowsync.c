/* A disk whose syncs are slow, for benchmarks only: LD_PRELOAD this library and every
 * fsync/fdatasync of the process (SQLite's and Python's alike) takes SLOWSYNC_US more
 * microseconds after the real call returns. Built by bench/slowsync/build.sh. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static long delay_us(void) {
    const char *v = getenv("SLOWSYNC_US");
    return v ? atol(v) : 0;
}

static void pause_us(long us) {
    if (us <= 0) return;
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0) {}
}

static int slowed(const char *name, int (**real)(int), int fd) {
    if (!*real) *real = (int (*)(int))dlsym(RTLD_NEXT, name);
    int rc = (*real)(fd);
    pause_us(delay_us());
    return rc;
}

int fsync(int fd) {
    static int (*real)(int);
    return slowed("fsync", &real, fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    return slowed("fdatasync", &real, fd);
}
