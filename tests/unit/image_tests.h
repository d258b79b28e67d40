/* Helpers of the unit tests of the image core (test_image.c,
 * test_image_budget.c): a render request, and fixtures made at run time
 * (no binary file in the repository) in a fresh temporary folder by a
 * child process: libvips' worker threads do not survive fork(), and Check
 * forks for every test, so the runner's process itself never starts
 * libvips; each test starts it in its own fork. */
#ifndef PV_TEST_IMAGE_TESTS_H
#define PV_TEST_IMAGE_TESTS_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pv_image.h"

/* A request for a box, fit and format; everything else 0 (defaults). */
static pv_render_req_t req_box(int w, int h, pv_image_fit_e fit,
                               pv_image_format_e fmt)
{
    pv_render_req_t r;

    memset(&r, 0, sizeof(r));
    r.width = w;
    r.height = h;
    r.fit = fit;
    r.format = fmt;
    return r;
}

/* Every file (and empty folder) in dir, then dir. */
static void fixtures_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (!d) {
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) {
            rmdir(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* A folder $TMPDIR/<name>.XXXXXX into dir (size bytes), filled by make()
 * in a child, which must _exit(0) when done. 0 on success; else the
 * folder is gone and the reason printed. */
static int fixtures_make(char *dir, size_t size, const char *name,
                         void (*make)(const char *dir))
{
    const char *tmp = getenv("TMPDIR");
    pid_t pid;
    int status;

    snprintf(dir, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        make(dir);
        _exit(2);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "could not make fixtures in %s\n", dir);
        fixtures_remove(dir);
        return -1;
    }
    return 0;
}

#endif /* PV_TEST_IMAGE_TESTS_H */
