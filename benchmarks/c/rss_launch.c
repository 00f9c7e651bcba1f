/* rss_launch RESULT_FILE PROGRAM [ARGS...]: run PROGRAM, wait for it, write
 * "<ru_maxrss in kB> <wait status>" to RESULT_FILE, exit with its exit code.
 *
 * Why: on Linux a child's ru_maxrss starts at its parent's RSS at fork (exec records the
 * forked copy's high-water mark), so a child spawned by a runner holding 800 MB reports at
 * least 800 MB, even /bin/true. Spawned from this ~1 MB launcher, the figure is the child's
 * own peak (and that of the children it reaped itself, as wait4 reports them). */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: rss_launch RESULT_FILE PROGRAM [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("rss_launch: fork");
        return 126;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("rss_launch: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            perror("rss_launch: wait4");
            return 125;
        }
    }
    FILE *out = fopen(argv[1], "w");
    if (out == NULL) {
        perror("rss_launch: result file");
        return 124;
    }
    fprintf(out, "%ld %d\n", usage.ru_maxrss, status);
    fclose(out);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
