/*
 * Scripted POP3 peer, the test certificates: runs make-test-certs into a
 * directory and builds server contexts from what it made. See script_server.h.
 */
#include "script_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/wait.h>

/* -------------------------------------------------------- test certificates */

static char p3s_cert_dir[2048];
static int p3s_cert_dir_temporary;

static const char *p3s_find_cert_script(void)
{
    static char beside[4096];
    const char *env = getenv("POP3A_MAKE_TEST_CERTS");
    if (env && env[0])
        return env;
    /* __FILE__ is this file's path as the compiler saw it (relative to the build
     * directory, where meson runs the tests). */
    snprintf(beside, sizeof beside, "%s", __FILE__);
    char *slash = strrchr(beside, '/');
    if (!slash)
        return NULL;
    snprintf(slash, sizeof beside - (size_t)(slash - beside), "/make-test-certs");
    return access(beside, R_OK) == 0 ? beside : NULL;
}

static int p3s_run_cert_script(const char *script, const char *dir)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("bash", "bash", script, dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

const char *p3s_certs_make(void)
{
    const char *script = p3s_find_cert_script();
    if (!script)
        return NULL;
    const char *fixed = getenv("POP3A_TEST_CERT_DIR");
    p3s_cert_dir_temporary = !fixed || !fixed[0];
    if (p3s_cert_dir_temporary) {
        const char *tmp = getenv("TMPDIR");
        snprintf(p3s_cert_dir, sizeof p3s_cert_dir, "%s/p3s-certs-XXXXXX",
                 tmp && tmp[0] && strlen(tmp) < 1024 ? tmp : "/tmp");
        if (!mkdtemp(p3s_cert_dir))
            return NULL;
    } else {
        snprintf(p3s_cert_dir, sizeof p3s_cert_dir, "%s", fixed);
    }
    if (p3s_run_cert_script(script, p3s_cert_dir) != 0) {
        p3s_certs_remove();
        return NULL;
    }
    return p3s_cert_dir;
}

const char *p3s_cert(const char *file)
{
    static char path[4][4096];
    static unsigned next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", p3s_cert_dir, file);
    return p;
}

void p3s_certs_remove(void)
{
    if (!p3s_cert_dir_temporary || !p3s_cert_dir[0])
        return;
    DIR *d = opendir(p3s_cert_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(p3s_cert(e->d_name));
    }
    if (d)
        closedir(d);
    rmdir(p3s_cert_dir);
    p3s_cert_dir[0] = '\0';
}

SSL_CTX *p3s_tls_server_ctx(const char *name)
{
    char pem[64], key[64];
    if (!p3s_cert_dir[0] || strlen(name) > 40)
        return NULL;
    snprintf(pem, sizeof pem, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, p3s_cert(pem)) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, p3s_cert(key), SSL_FILETYPE_PEM) != 1) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}
