/* A slow disk for the benchmark: LD_PRELOAD this and every fsync / fdatasync of the process
 * does the real call, then sleeps SLOW_FSYNC_MS milliseconds (default 4). The process's own
 * code is untouched (no monkeypatch); Python's os.fsync releases the GIL around the call, as
 * it does for a real slow device. slow_fsync_calls() (through ctypes) counts the calls. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static long delay_ns = 4000000L;
static unsigned long calls;

__attribute__((constructor)) static void slow_fsync_init(void) {
    const char *ms = getenv("SLOW_FSYNC_MS");
    if (ms != NULL && *ms != '\0') delay_ns = (long)(atof(ms) * 1e6);
}

static void slow_fsync_delay(void) {
    struct timespec left = {delay_ns / 1000000000L, delay_ns % 1000000000L};
    while (nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
    __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
}

unsigned long slow_fsync_calls(void) { return __atomic_load_n(&calls, __ATOMIC_RELAXED); }

typedef int (*sync_fn)(int);

/* The real call (looked up once), then the delay; errno as the real call left it. */
static int slowed(sync_fn *real, const char *name, int fd) {
    if (*real == NULL) *real = (sync_fn)dlsym(RTLD_NEXT, name);
    int rc = (*real)(fd);
    int saved = errno;
    slow_fsync_delay();
    errno = saved;
    return rc;
}

int fsync(int fd) {
    static sync_fn real;
    return slowed(&real, "fsync", fd);
}

int fdatasync(int fd) {
    static sync_fn real;
    return slowed(&real, "fdatasync", fd);
}
