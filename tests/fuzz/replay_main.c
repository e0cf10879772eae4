/*
 * Replay driver: runs a fuzz target's LLVMFuzzerTestOneInput over files, so the
 * seed corpus and every regression input found by fuzzing are re-checked by a
 * normal `meson test` with any compiler, sanitizers or not.
 *
 * Usage: replay_<target> PATH...   (a PATH is a file or a directory of files)
 * Exit status 0 when every input ran; a failed invariant aborts, as in fuzzing.
 * A PATH that holds no input fails: a replay of nothing proves nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            unsigned char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: read error\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so ASan catches a read one past the input. */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int skip_name(const struct dirent *d)
{
    /* Hidden files (.gitkeep) and README are not inputs. */
    return d->d_name[0] != '.' && strcmp(d->d_name, "README") != 0 &&
           strcmp(d->d_name, "README.md") != 0;
}

static int run_path(const char *path, unsigned *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, skip_name, alphasort);
    if (n < 0) {
        perror(path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        size_t plen = strlen(path) + strlen(names[i]->d_name) + 2;
        char *full = malloc(plen);
        if (full) {
            snprintf(full, plen, "%s/%s", path, names[i]->d_name);
            if (run_path(full, count) != 0)
                rc = -1;
            free(full);
        } else {
            rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        unsigned before = count;
        if (run_path(argv[i], &count) != 0)
            rc = 1;
        if (count == before) {
            fprintf(stderr, "%s: no inputs to replay\n", argv[i]);
            rc = 1;
        }
    }
    printf("%u inputs replayed\n", count);
    return rc;
}
